package e2e

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/chromedp/chromedp"
)

// dashboardFunctions deploys the dashboard test's two functions with
// NONE URLs: "streamer", which streams part 1, waits for the gate file
// <gate>/1, then streams part 2; and "counter", buffered, which appends a
// line to <count> each time it runs and logs a line. It returns their URLs.
func dashboardFunctions(t *testing.T, c *lambda.Client, gate, count string) (streamer, counter string) {
	t.Helper()
	createScript(t, c, "streamer", types.RuntimeNodejs20x, "index.handler", map[string]string{"index.mjs": fmt.Sprintf(`
import { existsSync } from "node:fs";
export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream = awslambda.HttpResponseStream.from(responseStream, { statusCode: 200, headers: { "content-type": "text/plain" } });
  responseStream.write("part 1;");
  for (let n = 0; n < 2000 && !existsSync(%q); n++) await new Promise((r) => setTimeout(r, 10));
  responseStream.end(existsSync(%q) ? "part 2" : "gate timeout");
});`, filepath.Join(gate, "1"), filepath.Join(gate, "1"))})
	if _, err := c.UpdateFunctionConfiguration(ctx(t), &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("streamer"), Timeout: aws.Int32(30),
		Environment: &types.Environment{Variables: map[string]string{"API_TOKEN": "s3cr3t-token"}}}); err != nil {
		t.Fatal(err)
	}
	createScript(t, c, "counter", types.RuntimeNodejs20x, "index.handler", map[string]string{"index.js": fmt.Sprintf(`
exports.handler = async (event) => {
  require("fs").appendFileSync(%q, "ran\n");
  console.log("counter says hello");
  return {statusCode: 200, headers: {"content-type": "text/plain"}, body: "counted"};
};`, count)})
	if _, err := c.PutFunctionConcurrency(ctx(t), &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("counter"), ReservedConcurrentExecutions: aws.Int32(3)}); err != nil {
		t.Fatal(err)
	}
	for _, fn := range []struct {
		name string
		mode types.InvokeMode
		url  *string
	}{{"streamer", types.InvokeModeResponseStream, &streamer}, {"counter", types.InvokeModeBuffered, &counter}} {
		out, err := c.CreateFunctionUrlConfig(ctx(t), &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String(fn.name),
			AuthType: types.FunctionUrlAuthTypeNone, InvokeMode: fn.mode})
		if err != nil {
			t.Fatal(err)
		}
		grantURL(t, c, fn.name, nil)
		grantInvokeViaURL(t, c, fn.name, nil)
		*fn.url = aws.ToString(out.FunctionUrl)
	}
	return streamer, counter
}

// runs is how many times the counter function ran.
func runs(t *testing.T, count string) int {
	t.Helper()
	raw, err := os.ReadFile(count)
	if os.IsNotExist(err) {
		return 0
	} else if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(raw), "ran\n")
}

// The dashboard in Chromium at http://furl.localhost:<port>/_furl/ (a name
// Chromium resolves to loopback itself): the functions with clickable
// URLs, their config, masked environment values, reserved concurrency and
// policies; the send form streams a function's answer as it comes (part 1
// is on the page while the function still waits to write part 2); and
// the page looks as it did (screenshots at two widths, compared loosely).
func TestDashboardInChromium(t *testing.T) {
	newTab := browser(t)
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	_, port, _ := net.SplitHostPort(f.addr)
	gate, count := t.TempDir(), filepath.Join(t.TempDir(), "count")
	streamerURL, counterURL := dashboardFunctions(t, c, gate, count)
	dash := "http://furl.localhost:" + port

	tab := newTab()
	// A browser's navigation to furl's API address lands on the dashboard.
	if err := chromedp.Do(tab, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(f.url("/")),
		chromedp.WaitVisible(`article[data-function="streamer"]`)); err != nil {
		t.Fatalf("the dashboard: %v", err)
	}
	loc, err := chromedp.Run(tab, chromedp.Evaluate[string](`location.href`))
	if err != nil || loc != dash+"/_furl/" {
		t.Fatalf("navigating to %s landed on %q (%v), want %s/_furl/", f.url("/"), loc, err, dash)
	}

	type fnView struct {
		URLs     []string `json:"urls"`
		Runtime  string   `json:"runtime"`
		Reserved string   `json:"reserved"`
		Mode     string   `json:"mode"`
		Env      string   `json:"env"`
		Policy   string   `json:"policy"`
	}
	read := func(name string) fnView {
		t.Helper()
		v, err := chromedp.Run(tab, chromedp.Evaluate[fnView](fmt.Sprintf(`(() => {
  const a = document.querySelector('article[data-function=%q]');
  return {urls: Array.from(a.querySelectorAll('a.url')).map(l => l.href), runtime: a.querySelector('.runtime').textContent,
    reserved: a.querySelector('.reserved').textContent, mode: a.querySelector('.mode').textContent,
    env: a.querySelector('table.env').innerText, policy: a.querySelector('.policy pre').textContent};
})()`, name)))
		if err != nil {
			t.Fatalf("reading %s on the page: %v", name, err)
		}
		return v
	}
	s, k := read("streamer"), read("counter")
	if len(s.URLs) != 1 || s.URLs[0] != streamerURL || s.Runtime != "nodejs20.x" || s.Mode != "RESPONSE_STREAM" || s.Reserved != "unreserved" {
		t.Errorf("streamer on the page: %+v (URL %s)", s, streamerURL)
	}
	if len(k.URLs) != 1 || k.URLs[0] != counterURL || k.Mode != "BUFFERED" || k.Reserved != "3" || !strings.Contains(k.Policy, "FunctionURLAllowPublicAccess") {
		t.Errorf("counter on the page: %+v (URL %s)", k, counterURL)
	}
	if strings.Contains(s.Env, "s3cr3t-token") || !strings.Contains(s.Env, "API_TOKEN") {
		t.Errorf("the environment is not masked: %q", s.Env)
	}

	// Screenshots once the live feed is connected, before anything live
	// changes the page.
	if err := chromedp.Do(tab, chromedp.Poll[chromedp.Void](`document.getElementById('feedstate').dataset.state === 'live'`, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("the live feed did not connect: %v", err)
	}
	if err := chromedp.Do(tab, chromedp.Evaluate[chromedp.Void](`window.sameDocument = 'yes'`)); err != nil {
		t.Fatal(err)
	}
	for _, width := range []int64{1280, 420} {
		if err := chromedp.Do(tab, chromedp.EmulateViewport(width, 900),
			chromedp.Evaluate[chromedp.Void](`new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))`, chromedp.EvalAwaitPromise)); err != nil {
			t.Fatal(err)
		}
		shot, err := chromedp.Run(tab, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot at %d px: %v", width, err)
		}
		compareGolden(t, filepath.Join("testdata", "dashboard", fmt.Sprintf("dashboard-%d.png", width)), shot)
	}
	if err := chromedp.Do(tab, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}

	// A click reveals the value.
	if err := chromedp.Do(tab, chromedp.Click(`article[data-function="streamer"] button.reveal`)); err != nil {
		t.Fatal(err)
	}
	if env := read("streamer").Env; !strings.Contains(env, "s3cr3t-token") {
		t.Errorf("after a click on show, the environment reads %q", env)
	}

	// Invocations from outside appear live, with the log tail: the first
	// cold, the second warm.
	for i := range 2 {
		resp, err := localhostClient.Get(counterURL)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("counter's URL: %d", resp.StatusCode)
		}
		if err := chromedp.Do(tab, chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelectorAll('#invocations tr.end[data-function="counter"]').length === %d &&
  document.querySelectorAll('#invocations tr.url[data-function="counter"]').length === %d`, i+1, i+1), chromedp.WithPollingTimeout(30*time.Second))); err != nil {
			t.Fatalf("invocation %d of counter did not appear on the page: %v", i+1, err)
		}
	}
	type row struct {
		Status, Duration, Start, Bytes, Kind, Version string
	}
	rows, err := chromedp.Run(tab, chromedp.Evaluate[[]row](`Array.from(document.querySelectorAll('#invocations tr[data-function="counter"]')).map(tr => ({
  Status: tr.querySelector('.status').textContent, Duration: tr.querySelector('.duration').textContent, Start: tr.querySelector('.start').textContent,
  Bytes: tr.querySelector('.bytes').textContent, Kind: tr.querySelector('.kind').textContent, Version: tr.querySelector('.version').textContent}))`))
	if err != nil {
		t.Fatal(err)
	}
	var ends, urls []row
	for _, r := range rows {
		if r.Kind == "url" {
			urls = append(urls, r)
		} else {
			ends = append(ends, r)
		}
	}
	// Newest first.
	if len(ends) != 2 || ends[0].Start != "warm" || ends[1].Start != "cold" {
		t.Errorf("counter's invocations on the page: %+v", ends)
	}
	for _, r := range ends {
		if r.Status != "ok" || r.Kind != "invoke" || !strings.HasSuffix(r.Duration, "ms") && !strings.HasSuffix(r.Duration, " s") || r.Bytes == "" || r.Bytes == "0" || r.Version != "$LATEST" {
			t.Errorf("an invocation row: %+v", r)
		}
	}
	for _, r := range urls {
		if r.Status != "200" || r.Duration == "" {
			t.Errorf("a URL request row: %+v", r)
		}
	}
	if err := chromedp.Do(tab, chromedp.Poll[chromedp.Void](`document.querySelector('pre.log[data-function="counter"]').textContent.includes('counter says hello')`, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("counter's log line did not appear: %v", err)
	}
	if same, err := chromedp.Run(tab, chromedp.Evaluate[string](`window.sameDocument`)); err != nil || same != "yes" {
		t.Fatalf("the page reloaded (%q, %v)", same, err)
	}

	// The send form, against the streaming function: part 1 shows while
	// the function waits; part 2 only once the test opens the gate.
	if err := chromedp.Do(tab,
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('#sendform select[name=target]');
  s.value = Array.from(s.options).find(o => o.textContent.startsWith('streamer ')).value;
  document.querySelector('#sendform select[name=method]').value = 'GET'; })()`),
		chromedp.SetValue(`#sendform input[name=path]`, "/stream?x=1"),
		chromedp.Click(`#sendform button[type=submit]`),
		chromedp.Poll[chromedp.Void](`document.getElementById('resp-body').textContent.includes('part 1;')`, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("the send form: %v", err)
	}
	body, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.getElementById('resp-status').textContent + ' ' + document.getElementById('resp-state').textContent + ' ' + document.getElementById('resp-body').textContent`))
	if err != nil || body != "200 streaming part 1;" {
		t.Fatalf("while the function waits the page shows %q (%v), want part 1 only", body, err)
	}
	if err := os.WriteFile(filepath.Join(gate, "1"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(tab, chromedp.Poll[chromedp.Void](`document.getElementById('resp-state').textContent === 'done'`, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("the send form did not finish: %v", err)
	}
	body, _ = chromedp.Run(tab, chromedp.Evaluate[string](`document.getElementById('resp-body').textContent`))
	headers, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.getElementById('resp-headers').textContent`))
	if body != "part 1;part 2" || !strings.Contains(strings.ToLower(headers), "content-type: text/plain") {
		t.Fatalf("after the gate the page shows body %q, headers %q", body, headers)
	}
	// The streamed invocation is live too, as a stream.
	if err := chromedp.Do(tab, chromedp.Poll[chromedp.Void](`Array.from(document.querySelectorAll('#invocations tr.end[data-function="streamer"] td.kind')).some(td => td.textContent === 'stream')`, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("the streamed invocation did not appear as a stream: %v", err)
	}

	// Both functions have run: a fresh page says which sandbox each one's
	// environments run in (this furl runs --sandbox process), as
	// GET /_furl/environments does.
	tab2 := newTab()
	type sandboxView struct {
		Sandbox      string   `json:"sandbox"`
		Environments []string `json:"environments"`
	}
	if err := chromedp.Do(tab2, chromedp.Navigate(dash+"/_furl/"), chromedp.WaitVisible(`article[data-function="counter"]`)); err != nil {
		t.Fatalf("the dashboard in a new tab: %v", err)
	}
	for _, name := range []string{"counter", "streamer"} {
		v, err := chromedp.Run(tab2, chromedp.Evaluate[sandboxView](fmt.Sprintf(`(() => {
  const a = document.querySelector('article[data-function=%q]');
  const dd = a.querySelector('dd.sandbox');
  return {sandbox: dd ? dd.textContent : '', environments: Array.from(a.querySelectorAll('li.environment .tag.sandbox')).map(s => s.textContent)};
})()`, name)))
		if err != nil {
			t.Fatalf("reading %s's sandbox on the page: %v", name, err)
		}
		if v.Sandbox != "process" || len(v.Environments) == 0 || slices.ContainsFunc(v.Environments, func(s string) bool { return s != "process" }) {
			t.Errorf("%s on the page: sandbox %q, environments %q; want process for each", name, v.Sandbox, v.Environments)
		}
	}
}

// compareGolden compares a screenshot with the one checked in, loosely:
// the same size, and at most 2% of pixels differ by more than 64 in a
// channel (fonts and antialiasing vary a little; a changed layout moves
// far more). FURL_UPDATE_GOLDEN=1 rewrites the file instead.
func compareGolden(t *testing.T, path string, shot []byte) {
	t.Helper()
	if os.Getenv("FURL_UPDATE_GOLDEN") != "" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("the screenshot: %v", err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (FURL_UPDATE_GOLDEN=1 writes it)", err)
	}
	want, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	diff, total := pixelDiff(got, want)
	if total < 0 {
		t.Fatalf("%s: the screenshot is %v, the golden one %v", path, got.Bounds().Size(), want.Bounds().Size())
	}
	t.Logf("%s: %d of %d pixels differ", path, diff, total)
	if diff*100 > total*2 {
		out := filepath.Join(t.TempDir(), filepath.Base(path))
		os.WriteFile(out, shot, 0o644)
		t.Errorf("%s: %d of %d pixels differ (over 2%%); this run's screenshot is %s", path, diff, total, out)
	}
}

// pixelDiff counts the pixels that differ by more than 64 in a channel;
// total is -1 when the sizes differ.
func pixelDiff(a, b image.Image) (diff, total int) {
	if a.Bounds().Size() != b.Bounds().Size() {
		return 0, -1
	}
	ab, bb := a.Bounds(), b.Bounds()
	for y := 0; y < ab.Dy(); y++ {
		for x := 0; x < ab.Dx(); x++ {
			r1, g1, b1, _ := a.At(ab.Min.X+x, ab.Min.Y+y).RGBA()
			r2, g2, b2, _ := b.At(bb.Min.X+x, bb.Min.Y+y).RGBA()
			if far(r1, r2) || far(g1, g2) || far(b1, b2) {
				diff++
			}
			total++
		}
	}
	return diff, total
}

func far(a, b uint32) bool {
	d := int(a>>8) - int(b>>8)
	return d > 64 || d < -64
}

// dashboardAttackPage is a page on another origin that tries to make the
// dashboard's send form run a function and to read the dashboard's data.
// Its results are what it could read.
const dashboardAttackPage = `<!doctype html><html><body><script>
const dash = DASH;
const send = JSON.stringify({function: "counter", qualifier: "$LATEST", method: "GET", path: "/", headers: {}, body: ""});
const loaded = el => new Promise(done => { el.onload = done; el.onerror = done; setTimeout(done, 5000); });
function submit(enctype, name, value) {
  const form = document.createElement('form');
  form.method = 'POST'; form.action = dash + '/_furl/send'; form.enctype = enctype;
  const input = document.createElement('input');
  input.type = 'hidden'; input.name = name; input.value = value;
  form.appendChild(input);
  const frame = document.createElement('iframe');
  frame.name = 'f' + Math.random().toString(36).slice(2);
  document.body.appendChild(frame);
  const done = loaded(frame);
  form.target = frame.name;
  document.body.appendChild(form);
  form.submit();
  return done;
}
async function read(path) {
  try { const r = await fetch(dash + path); return r.status + ' ' + await r.text(); } catch (e) { return 'blocked'; }
}
(async () => {
  const results = {};
  try { const r = await fetch(dash + '/_furl/send', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: send});
    results.corsSend = r.status + ' ' + await r.text(); } catch (e) { results.corsSend = 'blocked'; }
  await fetch(dash + '/_furl/send', {mode: 'no-cors', method: 'POST', headers: {'Content-Type': 'text/plain'}, body: send}).catch(() => {});
  await fetch(dash + '/_furl/send', {mode: 'no-cors', method: 'POST', body: new Blob([send])}).catch(() => {});
  await submit('text/plain', send.slice(0, -1) + ',"pad":"', '"}');
  await submit('application/x-www-form-urlencoded', send, '');
  try { navigator.sendBeacon(dash + '/_furl/send', new Blob([send], {type: 'application/json'})); } catch (e) {}
  navigator.sendBeacon(dash + '/_furl/send', send);
  results.page = await read('/_furl/');
  results.events = await read('/_furl/events');
  results.eventSource = await new Promise(done => {
    const es = new EventSource(dash + '/_furl/events');
    es.onmessage = m => { es.close(); done('read ' + m.data); };
    es.onerror = () => { es.close(); done('blocked'); };
  });
  const frame = document.createElement('iframe');
  const framed = loaded(frame);
  frame.src = dash + '/_furl/';
  document.body.appendChild(frame);
  await framed;
  try { results.frame = frame.contentDocument ? frame.contentDocument.body.innerText : 'blocked'; } catch (e) { results.frame = 'blocked'; }
  window.results = results;
})();
</script></body></html>`

// Pages on other origins (127.0.0.1, cross-site; evil.localhost,
// same-site with furl.localhost as a function URL's host is) try every
// way a page has to make the dashboard's send form run a function, and
// to read the dashboard: none runs it (the function's count stays 0),
// none reads anything, and furl's log says why it refused. The dashboard's
// own page, sending the same request, runs it: the count could move.
func TestDashboardRefusesOtherOrigins(t *testing.T) {
	newTab := browser(t)
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	_, port, _ := net.SplitHostPort(f.addr)
	count := filepath.Join(t.TempDir(), "count")
	dashboardFunctions(t, c, t.TempDir(), count)
	dash := "http://furl.localhost:" + port

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, sitePort, _ := net.SplitHostPort(ln.Addr().String())
	page := strings.Replace(dashboardAttackPage, "DASH", fmt.Sprintf("%q", dash), 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page)
	}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	type results struct {
		CorsSend, Page, Events, EventSource, Frame string
	}
	for _, site := range []string{"http://127.0.0.1:" + sitePort, "http://evil.localhost:" + sitePort} {
		tab := newTab()
		if err := chromedp.Do(tab, chromedp.Navigate(site+"/"),
			chromedp.Poll[chromedp.Void](`window.results !== undefined`, chromedp.WithPollingTimeout(60*time.Second))); err != nil {
			t.Fatalf("the page at %s: %v", site, err)
		}
		got, err := chromedp.Run(tab, chromedp.Evaluate[results](`window.results`))
		if err != nil {
			t.Fatal(err)
		}
		if got != (results{"blocked", "blocked", "blocked", "blocked", "blocked"}) {
			t.Errorf("the page at %s read %+v", site, got)
		}
		f.logs.waitFor(t, `dashboard refused a request" method=POST host=furl.localhost:`+port+` path=/_furl/send origin=`+site, 20*time.Second)
	}
	if n := runs(t, count); n != 0 {
		t.Fatalf("pages on other origins ran the function %d times through the dashboard", n)
	}

	// The same request from the dashboard's own page runs it.
	tab := newTab()
	if err := chromedp.Do(tab, chromedp.Navigate(dash+"/_furl/"), chromedp.WaitVisible(`#sendform`)); err != nil {
		t.Fatal(err)
	}
	status, err := chromedp.Run(tab, chromedp.Evaluate[string](`fetch('/_furl/send', {method: 'POST', headers: {'Content-Type': 'application/json'},
  body: JSON.stringify({function: "counter", qualifier: "$LATEST", method: "GET", path: "/", headers: {}, body: ""})}).then(r => r.text())`, chromedp.EvalAwaitPromise))
	if err != nil || !strings.HasPrefix(status, `{"status":200`) || !strings.HasSuffix(status, "counted") {
		t.Fatalf("the dashboard's own send: %q %v", status, err)
	}
	if n := runs(t, count); n != 1 {
		t.Fatalf("the dashboard's own send ran the function %d times, want 1", n)
	}

	// The send form grants nothing a browser would not have: an AWS_IAM
	// URL answers it 403, as it would an unsigned browser request.
	if _, err := c.UpdateFunctionUrlConfig(ctx(t), &lambda.UpdateFunctionUrlConfigInput{FunctionName: aws.String("counter"), AuthType: types.FunctionUrlAuthTypeAwsIam}); err != nil {
		t.Fatal(err)
	}
	status, err = chromedp.Run(tab, chromedp.Evaluate[string](`fetch('/_furl/send', {method: 'POST', headers: {'Content-Type': 'application/json'},
  body: JSON.stringify({function: "counter", qualifier: "$LATEST", method: "GET", path: "/", headers: {}, body: ""})}).then(r => r.text())`, chromedp.EvalAwaitPromise))
	if err != nil || !strings.HasPrefix(status, `{"status":403`) {
		t.Fatalf("the dashboard's send to an AWS_IAM URL: %q %v", status, err)
	}
	if n := runs(t, count); n != 1 {
		t.Fatalf("an AWS_IAM URL ran for the send form: %d runs, want 1", n)
	}
}

// Under --verify-api-signatures the dashboard is off, and says why: a
// browser cannot sign.
func TestDashboardOffWhenSignaturesVerified(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0", "--verify-api-signatures")
	_, port, _ := net.SplitHostPort(f.addr)
	for _, path := range []string{"/_furl/", "/_furl/events"} {
		req, err := http.NewRequest("GET", f.url(path), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "furl.localhost:" + port
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "--verify-api-signatures") || !strings.Contains(string(body), "a browser cannot sign") {
			t.Errorf("%s with signatures verified: %d %s", path, resp.StatusCode, body)
		}
	}
}

// On the TLS listener the dashboard is https://furl.localhost:<port>/,
// with a certificate from furl's CA for that name; a browser's navigation
// to the API's https address goes there, and the send form takes only
// that https origin.
func TestDashboardOverTLS(t *testing.T) {
	f := startTLSFurl(t)
	client := tlsClient(t, f, nil, 0)
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	port := tlsPort(f)
	dash := "https://furl.localhost:" + port

	resp, err := client.Get(dash + "/_furl/")
	if err != nil {
		t.Fatalf("the dashboard over TLS: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `<section id="functions">`) || resp.TLS == nil || resp.TLS.PeerCertificates[0].VerifyHostname("furl.localhost") != nil {
		t.Fatalf("the dashboard over TLS: %d %.200s", resp.StatusCode, body)
	}

	req, _ := http.NewRequest("GET", "https://localhost:"+port+"/", nil)
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != dash+"/_furl/" {
		t.Fatalf("navigating to https://localhost:%s/: %d Location %q", port, resp.StatusCode, resp.Header.Get("Location"))
	}

	for origin, want := range map[string]int{dash: http.StatusNotFound, "http://furl.localhost:" + port: http.StatusForbidden} {
		req, _ := http.NewRequest("POST", dash+"/_furl/send", strings.NewReader(`{"function":"none","method":"GET","path":"/"}`))
		req.Header.Set("Origin", origin)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("send from %s: %d, want %d", origin, resp.StatusCode, want)
		}
	}
}
