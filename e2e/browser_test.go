package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/chromedp/chromedp"
)

// chromium finds Debian's chromium. Without it the test skips, unless
// FURL_E2E_REQUIRE_CHROMIUM is set (scripts/test.sh sets it and installs
// chromium) and then it fails.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("FURL_CHROMIUM"), "chromium", "chromium-browser"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("FURL_E2E_REQUIRE_CHROMIUM") != "" {
		t.Fatal("no chromium found (install Debian's chromium package; scripts/test.sh does)")
	}
	t.Skip("no chromium found; scripts/test.sh installs it")
	return ""
}

// browser starts a headless Chromium for the test (without its sandbox,
// which cannot run as root, as CI does); newTab opens a tab in it.
func browser(t *testing.T, extra ...chromedp.ExecAllocatorOption) (newTab func() context.Context) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	opts = append(opts, extra...)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	// Start it now: tabs opened later share this browser.
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return func() context.Context {
		tab, cancelTab := chromedp.NewContext(browser)
		tab, cancelTimeout := context.WithTimeout(tab, 3*time.Minute)
		t.Cleanup(func() {
			cancelTimeout()
			cancelTab()
		})
		return tab
	}
}

// The tricks a page on another origin plays on furl's Lambda API, each a
// request a browser sends without asking the target (no CORS preflight),
// and one that asks. Each request carries ?attempt=<name>, which furl's log
// names when it refuses it. The page defines each trick.
var browserTricks = []string{
	"nocors-fetch-text-create", "nocors-fetch-blob-create", "form-text-create", "form-urlencoded-create",
	"nocors-fetch-text-invoke", "nocors-fetch-blob-invoke", "form-text-invoke", "form-urlencoded-invoke",
	"beacon-text-invoke", "beacon-blob-invoke", "cors-fetch-json-create",
	"nocors-fetch-blob-invoke-created", "img-list", "script-list", "iframe-list", "iframe-code",
}

// attackPage is what a malicious (or merely compromised) site serves. Its
// config names furl's addresses, the CreateFunction body of the attacker's
// function, and the function URL it may legitimately call.
var attackPage = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><title>attacker</title></head><body>
<script id="cfg" type="application/json">{{.}}</script>
<script>
const cfg = JSON.parse(document.getElementById('cfg').textContent);
const ignore = () => {};
const attempt = (base, path, trick) => base + path + '?attempt=' + cfg.tag + '-' + cfg.furls.indexOf(base) + '-' + trick;
const loaded = el => new Promise(done => { el.onload = done; el.onerror = done; setTimeout(done, 5000); });

// submit posts a form into a hidden frame (or the whole tab) and waits
// for the frame to load whatever came back.
function submit(url, enctype, name, value, target) {
  const form = document.createElement('form');
  form.method = 'POST'; form.action = url; form.enctype = enctype;
  const input = document.createElement('input');
  input.type = 'hidden'; input.name = name; input.value = value;
  form.appendChild(input);
  let done = Promise.resolve();
  if (target !== '_top') {
    const frame = document.createElement('iframe');
    frame.name = 'f' + Math.random().toString(36).slice(2);
    document.body.appendChild(frame);
    done = loaded(frame);
    target = frame.name;
  }
  form.target = target;
  document.body.appendChild(form);
  form.submit();
  return done;
}

// A text/plain form sends name=value: a JSON body, if the name is the
// object up to a last member's value and the value closes it.
const textPlain = json => [json.slice(0, -1) + ',"pad":"', '"}'];

const invokePath = name => '/2015-03-31/functions/' + name + '/invocations';
const tricks = {
  'nocors-fetch-text-create': b => fetch(attempt(b, '/2015-03-31/functions', 'nocors-fetch-text-create'), {mode: 'no-cors', method: 'POST', headers: {'Content-Type': 'text/plain'}, body: cfg.create}).catch(ignore),
  'nocors-fetch-blob-create': b => fetch(attempt(b, '/2015-03-31/functions', 'nocors-fetch-blob-create'), {mode: 'no-cors', method: 'POST', body: new Blob([cfg.create])}).catch(ignore),
  'form-text-create': b => submit(attempt(b, '/2015-03-31/functions', 'form-text-create'), 'text/plain', ...textPlain(cfg.create)),
  'form-urlencoded-create': b => submit(attempt(b, '/2015-03-31/functions', 'form-urlencoded-create'), 'application/x-www-form-urlencoded', cfg.create, ''),
  'nocors-fetch-text-invoke': b => fetch(attempt(b, invokePath('victim'), 'nocors-fetch-text-invoke'), {mode: 'no-cors', method: 'POST', headers: {'Content-Type': 'text/plain'}, body: '{}'}).catch(ignore),
  'nocors-fetch-blob-invoke': b => fetch(attempt(b, invokePath('victim'), 'nocors-fetch-blob-invoke'), {mode: 'no-cors', method: 'POST', body: new Blob(['{}'])}).catch(ignore),
  'form-text-invoke': b => submit(attempt(b, invokePath('victim'), 'form-text-invoke'), 'text/plain', ...textPlain('{"a":1}')),
  'form-urlencoded-invoke': b => submit(attempt(b, invokePath('victim'), 'form-urlencoded-invoke'), 'application/x-www-form-urlencoded', 'a', '1'),
  'beacon-text-invoke': b => navigator.sendBeacon(attempt(b, invokePath('victim'), 'beacon-text-invoke'), '{}'),
  'beacon-blob-invoke': b => navigator.sendBeacon(attempt(b, invokePath('victim'), 'beacon-blob-invoke'), new Blob(['{}'])),
  'cors-fetch-json-create': b => fetch(attempt(b, '/2015-03-31/functions', 'cors-fetch-json-create'), {method: 'POST', headers: {'Content-Type': 'application/json'}, body: cfg.create}).catch(ignore),
  'nocors-fetch-blob-invoke-created': b => fetch(attempt(b, invokePath('pwned'), 'nocors-fetch-blob-invoke-created'), {mode: 'no-cors', method: 'POST', body: new Blob(['{}'])}).catch(ignore),
  'img-list': b => { const img = new Image(); const p = loaded(img); img.src = attempt(b, '/2015-03-31/functions', 'img-list'); return p; },
  'script-list': b => { const s = document.createElement('script'); const p = loaded(s); s.src = attempt(b, '/2015-03-31/functions', 'script-list'); document.body.appendChild(s); return p; },
  'iframe-list': b => { const f = document.createElement('iframe'); const p = loaded(f); f.src = attempt(b, '/2015-03-31/functions', 'iframe-list'); document.body.appendChild(f); return p; },
  'iframe-code': b => { const f = document.createElement('iframe'); const p = loaded(f); f.src = attempt(b, '/_furl/code/' + cfg.victimSha + '.zip', 'iframe-code'); document.body.appendChild(f); return p; },
};

async function run() {
  // What a page may do: call a function URL whose CORS config allows it.
  try {
    const resp = await fetch(cfg.url + 'hello', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{"from":"page"}'});
    window.urlResult = resp.status + ' ' + await resp.text();
  } catch (e) {
    window.urlResult = 'failed: ' + e;
  }
  for (const b of cfg.furls) {
    for (const name of cfg.tricks) {
      await tricks[name](b);
    }
  }
  window.done = true;
}

// leave navigates the whole tab: a form POST to Invoke as the last trick.
window.leave = () => submit(attempt(cfg.furls[0], invokePath('victim'), 'top-form-text-invoke'), 'text/plain', ...textPlain('{"a":1}'), '_top');
run();
</script></body></html>`))

// pageConfig is what the attack page is told.
type pageConfig struct {
	Tag       string   `json:"tag"`
	Furls     []string `json:"furls"`
	Create    string   `json:"create"`
	URL       string   `json:"url"`
	Tricks    []string `json:"tricks"`
	VictimSha string   `json:"victimSha"`
}

// attackSite is a web site of its own origin on this machine.
type attackSite struct {
	tag, origin string
	ln          net.Listener
}

// listenSite opens a port for a site the browser reaches by host.
func listenSite(t *testing.T, tag, host string) *attackSite {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return &attackSite{tag: tag, origin: "http://" + host + ":" + port, ln: ln}
}

// serve serves the attack page with its config until the test ends.
func (s *attackSite) serve(t *testing.T, cfg pageConfig) {
	t.Helper()
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		attackPage.Execute(w, template.JS(raw))
	}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(s.ln)
	t.Cleanup(func() { srv.Close() })
}

// A page on another local origin, opened in Chromium, tries every request
// a browser sends without asking (no-cors fetches with text and type-less
// bodies, text/plain and urlencoded forms, beacons, images, scripts,
// frames, a top-level form post) and one CORS fetch, to create a function
// that writes a marker when run and to invoke one that does. furl refuses
// each, says so in its log, and nothing is created or run; the same page
// still calls a function URL whose CORS config allows its origin.
func TestBrowserPageCannotUseTheLambdaAPI(t *testing.T) {
	newTab := browser(t)
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	_, port, _ := net.SplitHostPort(f.addr)
	markers := t.TempDir()
	victimMarker := filepath.Join(markers, "victim-ran")
	attackMarker := filepath.Join(markers, "attacker-code-ran")

	_, err := c.CreateFunction(ctx(t), &lambda.CreateFunctionInput{FunctionName: aws.String("victim"), Runtime: types.RuntimeNodejs20x,
		Role: aws.String(testRole), Handler: aws.String("index.handler"), Timeout: aws.Int32(10),
		Code: &types.FunctionCode{ZipFile: makeZip(t, map[string]string{"index.js": fmt.Sprintf(
			`exports.handler = async () => { require("fs").writeFileSync(%q, "ran"); return "ran"; };`, victimMarker)})}})
	if err != nil {
		t.Fatal(err)
	}
	attackerCode := makeZip(t, map[string]string{"index.js": fmt.Sprintf(
		`require("fs").writeFileSync(%q, "ran"); exports.handler = async () => "pwned";`, attackMarker)})
	create, _ := json.Marshal(map[string]any{"FunctionName": "pwned", "Runtime": "nodejs20.x", "Role": testRole,
		"Handler": "index.handler", "Code": map[string]string{"ZipFile": encodeBase64(attackerCode)}})

	createScript(t, c, "greeter", types.RuntimeNodejs20x, "index.handler", map[string]string{"index.js": `
exports.handler = async (event) => ({statusCode: 200, headers: {"content-type": "text/plain"}, body: "hello " + event.body});`})
	// Two sites: a page on localhost is same-site with furl at
	// localhost, a page on 127.0.0.1 with furl at 127.0.0.1, and each is
	// cross-site with the other.
	sites := []*attackSite{listenSite(t, "localhost", "localhost"), listenSite(t, "loopback", "127.0.0.1")}
	urlOut, err := c.CreateFunctionUrlConfig(ctx(t), &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("greeter"), AuthType: types.FunctionUrlAuthTypeNone,
		Cors: &types.Cors{AllowOrigins: []string{sites[0].origin, sites[1].origin}, AllowMethods: []string{"POST"}, AllowHeaders: []string{"content-type"}}})
	if err != nil {
		t.Fatal(err)
	}
	grantURL(t, c, "greeter", nil)
	grantInvokeViaURL(t, c, "greeter", nil)
	for _, p := range sites {
		p.serve(t, pageConfig{Tag: p.tag, Furls: []string{"http://127.0.0.1:" + port, "http://localhost:" + port}, Create: string(create),
			URL: aws.ToString(urlOut.FunctionUrl), Tricks: browserTricks, VictimSha: hexSha256(t, c, "victim")})
	}

	for _, p := range sites {
		tab := newTab()
		err := chromedp.Do(tab, chromedp.Navigate(p.origin+"/"),
			chromedp.Poll[chromedp.Void](`window.done === true`, chromedp.WithPollingTimeout(90*time.Second)))
		if err != nil {
			t.Fatalf("page at %s: %v", p.origin, err)
		}
		urlResult, err := chromedp.Run(tab, chromedp.Evaluate[string](`window.urlResult`))
		if err != nil {
			t.Fatalf("page at %s: %v", p.origin, err)
		}
		// The last trick takes the whole tab to furl.
		if err := chromedp.Do(tab, chromedp.Evaluate[chromedp.Void](`void window.leave()`)); err != nil {
			t.Fatalf("page at %s: %v", p.origin, err)
		}
		if urlResult != `200 hello {"from":"page"}` {
			t.Errorf("the page at %s calling a function URL that allows its origin got %q", p.origin, urlResult)
		}
		for i := range 2 {
			for _, trick := range append(browserTricks, "top-form-text-invoke") {
				if trick == "top-form-text-invoke" && i > 0 {
					continue
				}
				f.logs.waitFor(t, fmt.Sprintf(`attempt=%s-%d-%s"`, p.tag, i, trick), 20*time.Second)
			}
		}
	}
	logs := f.logs.String()
	for _, why := range []string{"the request carries an Origin", "Sec-Fetch-Site is cross-site", "Sec-Fetch-Site is same-site"} {
		if !strings.Contains(logs, why) {
			t.Errorf("no refusal in furl's log says %q", why)
		}
	}

	out, err := c.ListFunctions(ctx(t), &lambda.ListFunctionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, fn := range out.Functions {
		names = append(names, aws.ToString(fn.FunctionName))
	}
	if strings.Join(names, ",") != "greeter,victim" {
		t.Fatalf("functions after the attack: %v", names)
	}
	for _, m := range []string{victimMarker, attackMarker} {
		if _, err := os.Stat(m); err == nil {
			t.Fatalf("%s exists: a function ran for the page", m)
		}
	}

	// The markers were no empty threat: run by a program, both functions
	// write them.
	if _, err := c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("victim")}); err != nil {
		t.Fatal(err)
	}
	resp, body := f.do("POST", "/2015-03-31/functions", "application/json", create)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("the page's CreateFunction body, sent by a program: %d %s", resp.StatusCode, body)
	}
	if _, err := c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("pwned")}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{victimMarker, attackMarker} {
		if _, err := os.Stat(m); err != nil {
			t.Fatalf("run by a program, a function did not write its marker: %v", err)
		}
	}
}

// hexSha256 is a function's code hash as /_furl/code/ names it.
func hexSha256(t *testing.T, c *lambda.Client, name string) string {
	t.Helper()
	out, err := c.GetFunction(ctx(t), &lambda.GetFunctionInput{FunctionName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	loc := aws.ToString(out.Code.Location)
	return strings.TrimSuffix(loc[strings.LastIndex(loc, "/")+1:], ".zip")
}

// rebinder is a DNS rebinding attack's server, emulated: a TCP proxy on one
// port that sends each connection to the attacker's web server until the
// page is served, and to furl after that, as the attacker's DNS would
// answer first with its own address and then with furl's.
type rebinder struct {
	ln      net.Listener
	page    string // the attacker's server
	furl    string
	rebound chan struct{}
}

func (rb *rebinder) serve() {
	for {
		conn, err := rb.ln.Accept()
		if err != nil {
			return
		}
		target := rb.page
		select {
		case <-rb.rebound:
			target = rb.furl
		default:
		}
		go func() {
			defer conn.Close()
			up, err := net.Dial("tcp", target)
			if err != nil {
				return
			}
			defer up.Close()
			go io.Copy(up, conn)
			io.Copy(conn, up)
		}()
	}
}

// rebindPage, once rebound, reads what it can from furl, now its own
// origin: the functions, one function's environment and code, and it
// creates and invokes functions. It tries each request until furl (and not
// a connection the browser opened before the rebinding) answers it.
const rebindPage = `<!doctype html><html><body><script>
const create = JSON.stringify(CREATE);
async function furl(path, init) {
  for (let i = 0; i < 50; i++) {
    try {
      const resp = await fetch(path, Object.assign({cache: 'no-store'}, init));
      const body = await resp.text();
      if (resp.headers.get('x-amzn-requestid')) return resp.status + ' ' + body;
    } catch (e) {}
    await new Promise(r => setTimeout(r, 100));
  }
  return 'furl never answered';
}
(async () => {
  const json = {'Content-Type': 'application/json'};
  window.results = {
    list: await furl('/2015-03-31/functions'),
    get: await furl('/2015-03-31/functions/victim'),
    create: await furl('/2015-03-31/functions', {method: 'POST', headers: json, body: create}),
    invoke: await furl('/2015-03-31/functions/victim/invocations', {method: 'POST', headers: json, body: '{}'}),
  };
})();
</script></body></html>`

// DNS rebinding in Chromium: a page at http://rebind.test:<port> whose name
// then resolves to furl reads and writes furl's Lambda API from its own
// origin, the same-origin policy notwithstanding. furl refuses every such
// request by its Host, and nothing leaks, is created or runs.
func TestBrowserRebindingRefused(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	marker := filepath.Join(t.TempDir(), "victim-ran")
	if _, err := c.CreateFunction(ctx(t), &lambda.CreateFunctionInput{FunctionName: aws.String("victim"), Runtime: types.RuntimeNodejs20x,
		Role: aws.String(testRole), Handler: aws.String("index.handler"),
		Environment: &types.Environment{Variables: map[string]string{"DB_PASSWORD": "hunter2"}},
		Code: &types.FunctionCode{ZipFile: makeZip(t, map[string]string{"index.js": fmt.Sprintf(
			`exports.handler = async () => { require("fs").writeFileSync(%q, "ran"); return "ran"; };`, marker)})}}); err != nil {
		t.Fatal(err)
	}
	create, _ := json.Marshal(map[string]any{"FunctionName": "pwned", "Runtime": "nodejs20.x", "Role": testRole,
		"Handler": "index.handler", "Code": map[string]string{"ZipFile": encodeBase64(nodeZip(t, "pwned"))}})

	rb := &rebinder{furl: f.addr, rebound: make(chan struct{})}
	var err error
	if rb.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, strings.Replace(rebindPage, "CREATE", string(create), 1))
		// The page is out: from now on the name resolves to furl.
		select {
		case <-rb.rebound:
		default:
			close(rb.rebound)
		}
	}))
	t.Cleanup(page.Close)
	rb.page = page.Listener.Addr().String()
	go rb.serve()
	t.Cleanup(func() { rb.ln.Close() })
	_, port, _ := net.SplitHostPort(rb.ln.Addr().String())

	newTab := browser(t, chromedp.Flag("host-resolver-rules", "MAP rebind.test 127.0.0.1"))
	tab := newTab()
	if err := chromedp.Do(tab, chromedp.Navigate("http://rebind.test:"+port+"/"),
		chromedp.Poll[chromedp.Void](`window.results !== undefined`, chromedp.WithPollingTimeout(90*time.Second))); err != nil {
		t.Fatal(err)
	}
	results, err := chromedp.Run(tab, chromedp.Evaluate[map[string]string](`window.results`))
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range results {
		if !strings.HasPrefix(got, `403 {"Type":"User","Message":"furl refused this request: its Host \"rebind.test:`+port) || strings.Contains(got, "hunter2") {
			t.Errorf("the rebound page's %s: %s", name, got)
		}
	}
	if len(results) != 4 {
		t.Errorf("results: %v", results)
	}
	f.logs.waitFor(t, `--allowed-hosts=rebind.test`, 5*time.Second)
	out, err := c.ListFunctions(ctx(t), &lambda.ListFunctionsInput{})
	if err != nil || len(out.Functions) != 1 {
		t.Fatalf("functions after the rebinding: %v %s", err, jsonOf(out))
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the victim ran for the rebound page")
	}
}

// funcPage is a function URL's HTML page that, served on furl's own origin
// (the path form /lambda-url/<id>/), uses the Lambda API from that origin:
// what a function serving untrusted HTML would let any page do.
const funcPage = `<!doctype html><html><body><script>
(async () => {
  const json = {'Content-Type': 'application/json'};
  const call = async (path, init) => {
    try { const r = await fetch(path, init); return r.status + ' ' + await r.text(); } catch (e) { return 'error ' + e; }
  };
  window.results = {
    list: await call('/2015-03-31/functions'),
    create: await call('/2015-03-31/functions', {method: 'POST', headers: json, body: JSON.stringify(CREATE)}),
    invoke: await call('/2015-03-31/functions/victim/invocations', {method: 'POST', headers: json, body: '{}'}),
  };
})();
</script></body></html>`

// A function's page on furl's own origin (the path form of its URL) can
// use neither the Lambda API nor, through it, any other function: no page
// may, furl's own origin's included.
func TestBrowserFunctionPageCannotUseTheLambdaAPI(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	marker := filepath.Join(t.TempDir(), "victim-ran")
	createScript(t, c, "victim", types.RuntimeNodejs20x, "index.handler", map[string]string{"index.js": fmt.Sprintf(
		`exports.handler = async () => { require("fs").writeFileSync(%q, "ran"); return "ran"; };`, marker)})
	create, _ := json.Marshal(map[string]any{"FunctionName": "pwned", "Runtime": "nodejs20.x", "Role": testRole,
		"Handler": "index.handler", "Code": map[string]string{"ZipFile": encodeBase64(nodeZip(t, "pwned"))}})
	page := strings.Replace(funcPage, "CREATE", string(create), 1)
	createScript(t, c, "site", types.RuntimeNodejs20x, "index.handler", map[string]string{"index.js": fmt.Sprintf(
		`exports.handler = async () => ({statusCode: 200, headers: {"content-type": "text/html"}, body: %q});`, page)})
	u := publicURL(t, c, "site", nil)
	id := strings.SplitN(strings.TrimPrefix(u, "http://"), ".", 2)[0]

	tab := browser(t)()
	if err := chromedp.Do(tab, chromedp.Navigate(f.url("/lambda-url/"+id+"/")),
		chromedp.Poll[chromedp.Void](`window.results !== undefined`, chromedp.WithPollingTimeout(60*time.Second))); err != nil {
		t.Fatal(err)
	}
	results, err := chromedp.Run(tab, chromedp.Evaluate[map[string]string](`window.results`))
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 3 {
		t.Fatalf("results: %v", results)
	}
	for name, got := range results {
		if !strings.HasPrefix(got, `403 {"Type":"User","Message":"furl refused this request: a web page`) {
			t.Errorf("the function's page's %s: %s", name, got)
		}
	}
	out, err := c.ListFunctions(ctx(t), &lambda.ListFunctionsInput{})
	if err != nil || len(out.Functions) != 2 {
		t.Fatalf("functions after the page ran: %v %s", err, jsonOf(out))
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the victim ran for the function's page")
	}
}
