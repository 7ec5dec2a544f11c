package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"html/template"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// trustNSS makes the PEM certificate at pemPath a trusted CA for TLS
// servers in the NSS database nssDir, creating the database (without a
// password) when there is none yet.
func trustNSS(t *testing.T, nssDir, nick, pemPath string) {
	t.Helper()
	bin := certutilBin(t)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			t.Fatalf("certutil %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if _, err := os.Stat(filepath.Join(nssDir, "cert9.db")); err != nil {
		if err := os.MkdirAll(nssDir, 0o700); err != nil {
			t.Fatal(err)
		}
		run("-N", "--empty-password", "-d", "sql:"+nssDir)
	}
	run("-A", "-d", "sql:"+nssDir, "-n", nick, "-t", "C,,", "-i", pemPath)
}

// trustRootNSS installs furl's root (of the data directory dataDir) into
// the NSS database nssDir as a user does, with furl trust.
func trustRootNSS(t *testing.T, dataDir, nssDir string) {
	t.Helper()
	certutilBin(t)
	if out, code := furlCommand(t, "trust", "--data-dir", dataDir, "--system=false", "--nss-db", nssDir); code != 0 || !strings.Contains(out, "installed") {
		t.Fatalf("furl trust exited %d:\n%s", code, out)
	}
}

// chromiumHome is a home directory for one Chromium: on Linux, Chromium
// trusts the roots of $HOME/.pki/nssdb besides its own, so a test's roots
// go into a throw-away database and not the machine's.
func chromiumHome(t *testing.T) (home, nssDir string) {
	home = t.TempDir()
	return home, filepath.Join(home, ".pki", "nssdb")
}

// pageCA is a CA of the test's own, for the page's server: the page is on
// another origin than furl's, with a certificate furl did not issue.
type pageCA struct {
	pemPath string
	cert    tls.Certificate // the page server's, for host
}

func newPageCA(t *testing.T, host string) pageCA {
	t.Helper()
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	root := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "furl e2e page CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	rootDER, err := x509.CreateCertificate(rand.Reader, root, root, &rootKey.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	if root, err = x509.ParseCertificate(rootDER); err != nil {
		t.Fatal(err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, root, &leafKey.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "page-ca.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	return pageCA{pemPath: p, cert: tls.Certificate{Certificate: [][]byte{leafDER, rootDER}, PrivateKey: leafKey}}
}

// frontEndPage is a front end on its own HTTPS origin that calls function
// URLs the way browser code does. Each scenario is a function the test
// calls and awaits; opened(stream, i) tells the test that the page holds
// token i of a stream, and only then may the function write token i+1.
var frontEndPage = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><title>front end</title></head><body>
<script id="cfg" type="application/json">{{.}}</script>
<script>
const cfg = JSON.parse(document.getElementById('cfg').textContent);
window.pageErrors = [];
addEventListener('error', e => pageErrors.push(String(e.message)));
addEventListener('unhandledrejection', e => pageErrors.push(String(e.reason)));

async function opened(stream, i) {
  const r = await fetch('/gate/' + stream + '/' + i, {method: 'POST'});
  await r.text(); // an answer left unread ends as an aborted request
  if (!r.ok) throw new Error('gate ' + stream + '/' + i + ': ' + r.status);
}

// buffered: a credentialed POST with a header no simple request has, so
// the browser sends a preflight first.
async function buffered() {
  const resp = await fetch(cfg.echo + 'echo?from=page', {method: 'POST', credentials: 'include',
    headers: {'Content-Type': 'application/json', 'X-Page-Token': 'page-secret'}, body: JSON.stringify({hello: 'furl'})});
  return {status: resp.status, requestId: resp.headers.get('x-amzn-requestid'), date: resp.headers.get('date'),
    contentType: resp.headers.get('content-type'), event: await resp.text()};
}

// streamed reads a RESPONSE_STREAM answer chunk by chunk and opens each
// token's gate once the token is whole in hand.
async function streamed() {
  const resp = await fetch(cfg.stream + 'sse?n=' + cfg.tokens + '&gate=' + cfg.fetchGate, {credentials: 'include'});
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  const events = [];
  let buf = '';
  for (;;) {
    const {value, done} = await reader.read();
    if (done) break;
    buf += value;
    for (let end; (end = buf.indexOf('\n\n')) >= 0; ) {
      events.push(buf.slice(0, end));
      buf = buf.slice(end + 2);
      await opened('fetch', events.length);
    }
  }
  return {status: resp.status, contentType: resp.headers.get('content-type'), events, rest: buf};
}

// sse reads the same kind of stream with EventSource, which ends at the
// stream's end: its error event there closes it before it reconnects, and
// it is done once the gates it opened have answered.
function sse() {
  return new Promise(resolve => {
    const es = new EventSource(cfg.events + '?n=' + cfg.tokens + '&gate=' + cfg.esGate, {withCredentials: true});
    const data = [], gates = [];
    es.onmessage = e => {
      data.push(e.data);
      gates.push(opened('eventsource', data.length));
    };
    es.onerror = async () => {
      es.close();
      const gateErrors = (await Promise.allSettled(gates)).filter(g => g.status === 'rejected').map(g => String(g.reason));
      resolve({data, gateErrors, withCredentials: es.withCredentials});
    };
  });
}

// cookies has the function set cookies on a credentialed fetch, then
// returns the cookies the function is sent on the next one.
async function cookies() {
  const set = await fetch(cfg.echo + 'cookies/cross-site', {credentials: 'include'});
  await set.text();
  const r = await fetch(cfg.echo + 'echo?from=cookies', {credentials: 'include'});
  return {setStatus: set.status, status: r.status, cookies: JSON.parse(await r.text()).cookies || []};
}

// refused calls a URL whose Cors config does not name this page's origin.
async function refused() {
  try {
    const r = await fetch(cfg.refused + 'echo', {credentials: 'include'});
    return 'answered ' + r.status;
  } catch (e) {
    return e.name + ': ' + e.message;
  }
}
</script></body></html>`))

// frontEndConfig is what the page is told: its function URLs and gates.
type frontEndConfig struct {
	Echo      string `json:"echo"`
	Stream    string `json:"stream"`
	Events    string `json:"events"`
	Refused   string `json:"refused"`
	Tokens    int    `json:"tokens"`
	FetchGate string `json:"fetchGate"`
	ESGate    string `json:"esGate"`
}

// frontEnd is the page's HTTPS server. It serves the page and opens the
// gates the page names, in the order the page opens them. The gates are
// httpGates: their open cannot fail, so a handler never calls t.Fatal.
type frontEnd struct {
	origin string
	mu     sync.Mutex
	gates  map[string]gate
	opened []string // "stream/i", as the page opened them
}

func serveFrontEnd(t *testing.T, host string, ca pageCA, cfg *frontEndConfig, gates map[string]gate) *frontEnd {
	t.Helper()
	fe := &frontEnd{gates: gates}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if stream, i, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/gate/"), "/"); ok && r.Method == http.MethodPost {
			n, err := strconv.Atoi(i)
			fe.mu.Lock()
			g := fe.gates[stream]
			if g != nil && err == nil {
				fe.opened = append(fe.opened, stream+"/"+i)
			}
			fe.mu.Unlock()
			if g == nil || err != nil {
				http.NotFound(w, r)
				return
			}
			g.open(t, n)
			return
		}
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		raw, err := json.Marshal(cfg)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		frontEndPage.Execute(w, template.JS(raw))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	fe.origin = "https://" + host + ":" + port
	return fe
}

func (fe *frontEnd) gatesOpened() []string {
	fe.mu.Lock()
	defer fe.mu.Unlock()
	return slices.Clone(fe.opened)
}

// netLog is what Chromium's network domain reports for one tab: each
// request's URL and type, its response, or why it failed.
type netLog struct {
	mu        sync.Mutex
	requests  map[network.RequestID]*network.EventRequestWillBeSent
	responses map[network.RequestID]*network.EventResponseReceived
	failures  map[network.RequestID]*network.EventLoadingFailed
	// cookieNotes says why Chromium refused to store or send a cookie.
	cookieNotes []string
}

// listenNet starts recording the tab's network events; it opens the tab.
func listenNet(t *testing.T, tab context.Context) *netLog {
	t.Helper()
	nl := &netLog{requests: map[network.RequestID]*network.EventRequestWillBeSent{},
		responses: map[network.RequestID]*network.EventResponseReceived{}, failures: map[network.RequestID]*network.EventLoadingFailed{}}
	err := chromedp.Listen(tab, func(ev any) {
		nl.mu.Lock()
		defer nl.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			nl.requests[ev.RequestID] = ev
		case *network.EventResponseReceived:
			nl.responses[ev.RequestID] = ev
		case *network.EventLoadingFailed:
			nl.failures[ev.RequestID] = ev
		case *network.EventResponseReceivedExtraInfo:
			for _, b := range ev.BlockedCookies {
				nl.cookieNotes = append(nl.cookieNotes, fmt.Sprintf("not stored: %q: %v", b.CookieLine, b.BlockedReasons))
			}
		case *network.EventRequestWillBeSentExtraInfo:
			for _, a := range ev.AssociatedCookies {
				if len(a.BlockedReasons) > 0 {
					nl.cookieNotes = append(nl.cookieNotes, fmt.Sprintf("not sent: %s: %v", a.Cookie.Name, a.BlockedReasons))
				}
			}
		}
	})
	if err != nil {
		t.Fatalf("listen to the tab's network events: %v", err)
	}
	return nl
}

// responsesTo lists the responses to requests whose URL starts with
// prefix, with the URL's request type.
func (nl *netLog) responsesTo(prefix string) []*network.EventResponseReceived {
	nl.mu.Lock()
	defer nl.mu.Unlock()
	var out []*network.EventResponseReceived
	for _, r := range nl.responses {
		if strings.HasPrefix(r.Response.URL, prefix) {
			out = append(out, r)
		}
	}
	return out
}

// failed lists the failed requests as "URL: error text".
func (nl *netLog) failed() map[string]*network.EventLoadingFailed {
	nl.mu.Lock()
	defer nl.mu.Unlock()
	out := map[string]*network.EventLoadingFailed{}
	for id, f := range nl.failures {
		u := "(unknown request " + string(id) + ")"
		if r := nl.requests[id]; r != nil {
			u = r.Request.URL
		}
		out[u] = f
	}
	return out
}

// openSSLNames is how x-amzn-tls-version and x-amzn-tls-cipher-suite name
// what Chromium reports of a TLS 1.3 connection ("TLS 1.3", "AES_128_GCM"):
// the browser's own view of the connection, to hold the function's
// against.
func openSSLNames(t *testing.T, sd *network.SecurityDetails) (version, cipher string) {
	t.Helper()
	suites := map[string]string{"AES_128_GCM": "TLS_AES_128_GCM_SHA256", "AES_256_GCM": "TLS_AES_256_GCM_SHA384",
		"CHACHA20_POLY1305": "TLS_CHACHA20_POLY1305_SHA256"}
	if sd == nil || sd.Protocol != "TLS 1.3" || suites[sd.Cipher] == "" {
		t.Fatalf("Chromium reports the connection as %+v; the test knows TLS 1.3's names only", sd)
	}
	return "TLSv1.3", suites[sd.Cipher]
}

// corsURL gives a function a public URL with a Cors config and the
// permissions a public URL needs.
func corsURL(t *testing.T, c *lambda.Client, name string, mode types.InvokeMode, cors *types.Cors) string {
	t.Helper()
	out, err := c.CreateFunctionUrlConfig(ctx(t), &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String(name),
		AuthType: types.FunctionUrlAuthTypeNone, InvokeMode: mode, Cors: cors})
	if err != nil {
		t.Fatalf("CreateFunctionUrlConfig %s: %v", name, err)
	}
	grantURL(t, c, name, nil)
	grantInvokeViaURL(t, c, name, nil)
	return aws.ToString(out.FunctionUrl)
}

// A front end on its own HTTPS origin, in Chromium with furl's root in a
// throw-away NSS database, calls function URLs over HTTPS as it would call
// AWS's: a preflighted credentialed fetch to a buffered URL, whose exposed
// header it reads and whose other headers it cannot, and whose function
// sees https, furl's TLS port and the TLS the browser negotiated; a
// RESPONSE_STREAM answer read chunk by chunk with fetch and a
// ReadableStream, and with EventSource, each token written only once the
// page holds the one before (gates, not clocks); a URL whose Cors config
// does not name the page's origin fails in the page with a TypeError.
// Every answer comes over HTTP/2 on a certificate furl's root issued, and
// no request fails but the refused one. Without furl's root in the
// database, the same loads fail on the certificate: the test proves
// trust, not leniency.
func TestBrowserTLSFrontEnd(t *testing.T) {
	chromium(t)
	certutilBin(t)
	// Build the functions first: a build on a busy machine would eat the
	// deadline of the CreateFunction call it is an argument of.
	urlFunction(t)
	streamFunction(t)
	dataDir := t.TempDir()
	f := startFurl(t, dataDir, "127.0.0.1:0", "--listen-tls", "127.0.0.1:0")
	if f.tlsAddr == "" {
		t.Fatal("furl serves no HTTPS with --listen-tls 127.0.0.1:0")
	}
	_, tlsPort, _ := net.SplitHostPort(f.tlsAddr)
	c := f.client()

	const pageHost = "page.localhost"
	ca := newPageCA(t, pageHost)
	gates := map[string]gate{"fetch": newHTTPGate(t), "eventsource": newHTTPGate(t)}
	cfg := &frontEndConfig{Tokens: 4, FetchGate: gates["fetch"].query(), ESGate: gates["eventsource"].query()}
	fe := serveFrontEnd(t, pageHost, ca, cfg, gates)

	allow := func(expose ...string) *types.Cors {
		return &types.Cors{AllowOrigins: []string{fe.origin}, AllowMethods: []string{"GET", "POST"}, AllowCredentials: aws.Bool(true),
			AllowHeaders: []string{"content-type", "x-page-token"}, ExposeHeaders: expose, MaxAge: aws.Int32(600)}
	}
	createURLFunction(t, c, "echo", 10)
	cfg.Echo = corsURL(t, c, "echo", types.InvokeModeBuffered, allow("x-amzn-requestid"))
	createStreamFunction(t, c, "sse", "url", 60)
	cfg.Stream = corsURL(t, c, "sse", types.InvokeModeResponseStream, allow())
	createStreamFunction(t, c, "events", "reader", 60)
	cfg.Events = corsURL(t, c, "events", types.InvokeModeResponseStream, allow())
	createURLFunction(t, c, "elsewhere", 10)
	cfg.Refused = corsURL(t, c, "elsewhere", types.InvokeModeBuffered, &types.Cors{AllowOrigins: []string{"https://app.example"},
		AllowMethods: []string{"GET"}, AllowCredentials: aws.Bool(true)})
	for _, u := range []string{cfg.Echo, cfg.Stream, cfg.Events, cfg.Refused} {
		pu, err := url.Parse(u)
		if err != nil || pu.Scheme != "https" || pu.Port() != tlsPort || !strings.HasSuffix(pu.Hostname(), ".lambda-url.us-east-1.localhost") {
			t.Fatalf("FunctionUrl %s is not https://<id>.lambda-url.us-east-1.localhost:%s/ (%v)", u, tlsPort, err)
		}
	}
	furlRoot := readRootCN(t, dataDir)

	t.Run("without furl's root", func(t *testing.T) {
		home, nssDir := chromiumHome(t)
		trustNSS(t, nssDir, "page", ca.pemPath)
		tab := browser(t, chromedp.Env("HOME="+home))()
		nl := listenNet(t, tab)
		err := chromedp.Do(tab, chromedp.Navigate(cfg.Echo+"echo"))
		if err == nil || !strings.Contains(err.Error(), "ERR_CERT_AUTHORITY_INVALID") {
			t.Fatalf("opening the function URL without furl's root: %v, want ERR_CERT_AUTHORITY_INVALID", err)
		}
		if err := chromedp.Do(tab, chromedp.Navigate(fe.origin+"/")); err != nil {
			t.Fatalf("the page (whose CA the database holds): %v", err)
		}
		got, err := chromedp.Run(tab, chromedp.Evaluate[string](`buffered().then(r => 'answered ' + r.status, e => e.name + ': ' + e.message)`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(got, "TypeError") {
			t.Errorf("the page's fetch without furl's root: %s, want a TypeError", got)
		}
		fail := nl.failed()[cfg.Echo+"echo?from=page"]
		if fail == nil || fail.ErrorText != "net::ERR_CERT_AUTHORITY_INVALID" {
			t.Errorf("the page's fetch failed with %+v, want net::ERR_CERT_AUTHORITY_INVALID (all failures: %v)", fail, nl.failed())
		}
	})

	home, nssDir := chromiumHome(t)
	trustRootNSS(t, dataDir, nssDir)
	trustNSS(t, nssDir, "page", ca.pemPath)
	newTab := browser(t, chromedp.Env("HOME="+home))
	tab := newTab()
	nl := listenNet(t, tab)
	// The function URL itself opens, on a certificate of furl's root.
	resp, err := chromedp.RunResponse(tab, chromedp.Navigate(cfg.Echo+"echo"))
	if err != nil {
		t.Fatalf("opening the function URL with furl's root trusted: %v", err)
	}
	if resp.Status != 200 || resp.Protocol != "h2" || resp.SecurityDetails == nil || resp.SecurityDetails.Issuer != furlRoot {
		t.Fatalf("the function URL opened: %d over %s, security %+v; want 200 over h2 from %q", resp.Status, resp.Protocol, resp.SecurityDetails, furlRoot)
	}
	if err := chromedp.Do(tab, chromedp.Navigate(fe.origin+"/")); err != nil {
		t.Fatalf("the page: %v", err)
	}

	t.Run("buffered, preflighted, credentialed", func(t *testing.T) {
		type result struct {
			Status      int     `json:"status"`
			RequestID   *string `json:"requestId"`
			Date        *string `json:"date"`
			ContentType string  `json:"contentType"`
			Event       string  `json:"event"`
		}
		got, err := chromedp.Run(tab, chromedp.Evaluate[result](`buffered()`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("the page's fetch: %v", err)
		}
		var ev events.LambdaFunctionURLRequest
		if err := json.Unmarshal([]byte(got.Event), &ev); err != nil || got.Status != 200 || got.ContentType != "application/json" {
			t.Fatalf("the page got %d %s %q (%v)", got.Status, got.ContentType, got.Event, err)
		}
		// The exposed header reads as what the function was given; Date,
		// on the wire but not exposed, reads as nothing.
		if got.RequestID == nil || *got.RequestID != ev.RequestContext.RequestID || ev.RequestContext.RequestID == "" {
			t.Errorf("the page read x-amzn-requestid %v; the function's request id is %q", got.RequestID, ev.RequestContext.RequestID)
		}
		if got.Date != nil {
			t.Errorf("the page read the Date header, which the URL does not expose: %q", *got.Date)
		}
		var actual, preflight *network.Response
		for _, r := range nl.responsesTo(cfg.Echo + "echo?from=page") {
			switch r.Type {
			case network.ResourceTypeFetch:
				actual = r.Response
			case network.ResourceTypePreflight:
				preflight = r.Response
			}
		}
		if actual == nil || actual.Headers["date"] == nil {
			t.Fatalf("Chromium saw no answer with a Date header for the page's fetch: %+v", actual)
		}
		if preflight == nil || preflight.Status != 200 || preflight.Headers["access-control-allow-origin"] != fe.origin ||
			preflight.Headers["access-control-allow-credentials"] != "true" || preflight.Headers["access-control-max-age"] != "600" ||
			!strings.Contains(fmt.Sprint(preflight.Headers["access-control-allow-headers"]), "x-page-token") {
			t.Errorf("the preflight: %+v", preflight)
		}
		if actual.Protocol != "h2" || actual.SecurityDetails == nil || actual.SecurityDetails.Issuer != furlRoot {
			t.Errorf("the fetch went over %s, security %+v; want h2 from %q", actual.Protocol, actual.SecurityDetails, furlRoot)
		}
		version, cipher := openSSLNames(t, actual.SecurityDetails)
		h := ev.Headers
		for k, want := range map[string]string{"x-forwarded-proto": "https", "x-forwarded-port": tlsPort, "x-amzn-tls-version": version,
			"x-amzn-tls-cipher-suite": cipher, "origin": fe.origin, "x-page-token": "page-secret", "content-type": "application/json",
			"sec-fetch-mode": "cors"} {
			if h[k] != want {
				t.Errorf("the function saw %s: %q, want %q", k, h[k], want)
			}
		}
		if ev.RequestContext.HTTP.Method != "POST" || ev.RawPath != "/echo" || ev.RawQueryString != "from=page" || ev.Body != `{"hello":"furl"}` {
			t.Errorf("the function saw %s %s?%s %q", ev.RequestContext.HTTP.Method, ev.RawPath, ev.RawQueryString, ev.Body)
		}
	})

	t.Run("fetch stream, chunk by chunk", func(t *testing.T) {
		type result struct {
			Status      int      `json:"status"`
			ContentType string   `json:"contentType"`
			Events      []string `json:"events"`
			Rest        string   `json:"rest"`
		}
		got, err := chromedp.Run(tab, chromedp.Evaluate[result](`streamed()`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("the page's streaming fetch: %v", err)
		}
		if got.Status != 201 || got.ContentType != "text/event-stream" || got.Rest != "" || !slices.Equal(got.Events, tokenData("data: ", cfg.Tokens)) {
			t.Fatalf("the page read %d %s %q, then %q", got.Status, got.ContentType, got.Events, got.Rest)
		}
		f.out.waitFor(t, "streamfn finished 4 tokens: <nil>", 10*time.Second)
		rs := nl.responsesTo(cfg.Stream)
		if len(rs) != 1 || rs[0].Response.Protocol != "h2" {
			t.Errorf("Chromium saw %d answers to the streaming fetch, want one over h2", len(rs))
		}
	})

	t.Run("EventSource", func(t *testing.T) {
		type result struct {
			Data            []string `json:"data"`
			GateErrors      []string `json:"gateErrors"`
			WithCredentials bool     `json:"withCredentials"`
		}
		got, err := chromedp.Run(tab, chromedp.Evaluate[result](`sse()`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("the page's EventSource: %v", err)
		}
		if !got.WithCredentials || len(got.GateErrors) != 0 || !slices.Equal(got.Data, tokenData("", cfg.Tokens)) {
			t.Fatalf("the EventSource (withCredentials %v) read %q; gate errors %q", got.WithCredentials, got.Data, got.GateErrors)
		}
		rs := nl.responsesTo(cfg.Events)
		if len(rs) != 1 || rs[0].Response.Protocol != "h2" || rs[0].Response.Headers["access-control-allow-credentials"] != "true" {
			t.Errorf("Chromium saw %d answers to the EventSource, want one over h2 allowing credentials", len(rs))
		}
	})

	// Each token's gate opened once, in order, first the fetch's and then
	// the EventSource's: the page had token i before the function wrote
	// token i+1.
	var want []string
	for _, s := range []string{"fetch", "eventsource"} {
		for i := 1; i <= cfg.Tokens; i++ {
			want = append(want, s+"/"+strconv.Itoa(i))
		}
	}
	if got := fe.gatesOpened(); !slices.Equal(got, want) {
		t.Errorf("gates opened %q, want %q", got, want)
	}

	// The page and the URL are different sites, as a front end and
	// lambda-url.<region>.on.aws are: with third-party cookies allowed (a
	// regular Chrome window's default; this headless one restricts them,
	// as Incognito does), the function's cookies come back on the page's
	// credentialed fetches only when Secure and SameSite=None.
	t.Run("cross-site cookies", func(t *testing.T) {
		profile := t.TempDir()
		if err := os.MkdirAll(filepath.Join(profile, "Default"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(profile, "Default", "Preferences"), []byte(`{"profile": {"cookie_controls_mode": 0, "block_third_party_cookies": false}}`), 0o600); err != nil {
			t.Fatal(err)
		}
		tab := browser(t, chromedp.Env("HOME="+home), chromedp.UserDataDir(profile))()
		nl := listenNet(t, tab)
		if err := chromedp.Do(tab, chromedp.Navigate(fe.origin+"/")); err != nil {
			t.Fatalf("the page: %v", err)
		}
		type result struct {
			SetStatus int      `json:"setStatus"`
			Status    int      `json:"status"`
			Cookies   []string `json:"cookies"`
		}
		got, err := chromedp.Run(tab, chromedp.Evaluate[result](`cookies()`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("the page's fetches: %v", err)
		}
		if got.SetStatus != 200 || got.Status != 200 || !slices.Equal(got.Cookies, []string{"both=1"}) {
			nl.mu.Lock()
			notes := slices.Clone(nl.cookieNotes)
			nl.mu.Unlock()
			t.Errorf("the page's fetches answered %d, %d; the function was sent cookies %q, want only [both=1]; Chromium: %q", got.SetStatus, got.Status, got.Cookies, notes)
		}
	})

	t.Run("refused origin", func(t *testing.T) {
		got, err := chromedp.Run(tab, chromedp.Evaluate[string](`refused()`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		if got != "TypeError: Failed to fetch" {
			t.Errorf("the page's fetch to a URL that refuses its origin: %q, want a TypeError", got)
		}
		fail := nl.failed()[cfg.Refused+"echo"]
		if fail == nil || fail.CorsErrorStatus == nil || fail.CorsErrorStatus.CorsError != network.CorsErrorMissingAllowOriginHeader {
			t.Errorf("the refused fetch failed with %+v, want a CORS error for the missing Access-Control-Allow-Origin", fail)
		}
	})

	// Nothing else failed: no certificate error, nor any other.
	for u, fail := range nl.failed() {
		if u != cfg.Refused+"echo" {
			t.Errorf("%s failed: %s (blocked %q, CORS %+v)", u, fail.ErrorText, fail.BlockedReason, fail.CorsErrorStatus)
		}
	}
	pageErrors, err := chromedp.Run(tab, chromedp.Evaluate[[]string](`window.pageErrors`))
	if err != nil || len(pageErrors) != 0 {
		t.Errorf("errors in the page: %q (%v)", pageErrors, err)
	}
}

// tokenData is what the stream function's n tokens read as, each with
// the prefix.
func tokenData(prefix string, n int) []string {
	var s []string
	for i := 1; i <= n; i++ {
		s = append(s, prefix+"token "+strconv.Itoa(i))
	}
	return s
}

// readRootCN is the common name of furl's root, as Chromium names a
// certificate's issuer.
func readRootCN(t *testing.T, dataDir string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dataDir, "tls", "ca", "root.pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		t.Fatal("root.pem holds no PEM block")
	}
	root, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return root.Subject.CommonName
}
