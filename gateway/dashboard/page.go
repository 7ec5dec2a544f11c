package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/furl-dev/furl/runtimeapi"
	"github.com/furl-dev/furl/urlconfig"
)

// maxFunctions bounds how many functions one page lists.
const maxFunctions = 500

// pageData is what the dashboard page shows.
type pageData struct {
	Functions []function
	Live      bool
}

type function struct {
	Name, Runtime, Handler, Arch, PackageType, Description, LastModified string
	Memory, Timeout                                                      int
	Reserved                                                             string
	URLs                                                                 []functionURL
	Env                                                                  []envVar
	Policies                                                             []policy
	Aliases                                                              []string
	// Sandboxes names the sandboxes its live environments run in
	// ("docker", "process"), and Environments lists them; both are empty
	// when none is running, since a function runs nowhere until it starts.
	Sandboxes    string
	Environments []runtimeapi.EnvironmentInfo
}

type functionURL struct {
	Qualifier, URL, AuthType, InvokeMode, Cors string
}

type envVar struct{ Name, Value string }

type policy struct{ Qualifier, Document string }

func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	data, err := h.gather(r.Context())
	if err != nil {
		h.log.Error("dashboard could not read the account's state", "err", err)
		http.Error(w, "furl could not read its state: "+err.Error(), http.StatusInternalServerError)
		return
	}
	data.Live = h.cfg.Feed != nil
	var b bytes.Buffer
	if err := pageTemplate.Execute(&b, data); err != nil {
		h.log.Error("dashboard page", "err", err)
		http.Error(w, "furl could not render its dashboard", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b.Bytes())
}

// gather reads the functions and what belongs to them.
func (h *Handler) gather(ctx context.Context) (*pageData, error) {
	var data pageData
	envs := map[string][]runtimeapi.EnvironmentInfo{}
	if h.cfg.Environments != nil {
		for _, e := range h.cfg.Environments() {
			envs[e.Function] = append(envs[e.Function], e)
		}
	}
	var marker *string
	for len(data.Functions) < maxFunctions {
		out, err := h.cfg.Store.ListFunctions(ctx, &urlconfig.ListFunctionsInput{Marker: marker})
		if err != nil {
			return nil, fmt.Errorf("list functions: %w", err)
		}
		for _, fc := range out.Functions {
			fn, err := h.function(ctx, fc)
			if err != nil {
				return nil, err
			}
			fn.Environments = envs[fn.Name]
			fn.Sandboxes = sandboxes(fn.Environments)
			data.Functions = append(data.Functions, fn)
		}
		if out.NextMarker == nil {
			break
		}
		marker = out.NextMarker
	}
	return &data, nil
}

func (h *Handler) function(ctx context.Context, fc *urlconfig.FunctionConfiguration) (function, error) {
	fn := function{Name: fc.FunctionName, Runtime: fc.Runtime, Handler: fc.Handler, PackageType: fc.PackageType,
		Description: fc.Description, LastModified: fc.LastModified, Memory: fc.MemorySize, Timeout: fc.Timeout,
		Arch: strings.Join(fc.Architectures, ","), Reserved: "unreserved"}
	if fc.Environment != nil {
		for k, v := range fc.Environment.Variables {
			fn.Env = append(fn.Env, envVar{k, v})
		}
		sort.Slice(fn.Env, func(i, j int) bool { return fn.Env[i].Name < fn.Env[j].Name })
	}
	if c, err := h.cfg.Store.GetFunctionConcurrency(ctx, fc.FunctionName); err != nil {
		return fn, fmt.Errorf("concurrency of %s: %w", fc.FunctionName, err)
	} else if c.ReservedConcurrentExecutions != nil {
		fn.Reserved = fmt.Sprint(*c.ReservedConcurrentExecutions)
	}
	urls, err := h.cfg.Store.ListFunctionURLConfigs(ctx, fc.FunctionName, nil, nil)
	if err != nil {
		return fn, fmt.Errorf("URLs of %s: %w", fc.FunctionName, err)
	}
	for _, u := range urls.FunctionUrlConfigs {
		q := urlconfig.LatestVersion
		if _, rest, ok := strings.Cut(u.FunctionArn, ":function:"); ok {
			if _, qual, ok := strings.Cut(rest, ":"); ok {
				q = qual
			}
		}
		fu := functionURL{Qualifier: q, URL: u.FunctionUrl, AuthType: u.AuthType, InvokeMode: u.InvokeMode}
		if fu.InvokeMode == "" {
			fu.InvokeMode = "BUFFERED"
		}
		if u.Cors != nil {
			raw, _ := json.Marshal(u.Cors)
			fu.Cors = string(raw)
		}
		fn.URLs = append(fn.URLs, fu)
	}
	qualifiers := []*string{nil}
	aliases, err := h.cfg.Store.ListAliases(ctx, fc.FunctionName, nil, nil, nil)
	if err != nil {
		return fn, fmt.Errorf("aliases of %s: %w", fc.FunctionName, err)
	}
	for _, a := range aliases.Aliases {
		fn.Aliases = append(fn.Aliases, a.Name+" → "+a.FunctionVersion)
		qualifiers = append(qualifiers, &a.Name)
	}
	for _, q := range qualifiers {
		// A function without a policy has none to show: GetPolicy's
		// ResourceNotFoundException is no failure here.
		p, err := h.cfg.Store.GetPolicy(ctx, fc.FunctionName, q)
		if err != nil {
			continue
		}
		var pretty bytes.Buffer
		if json.Indent(&pretty, []byte(p.Policy), "", "  ") != nil {
			pretty.Reset()
			pretty.WriteString(p.Policy)
		}
		name := urlconfig.LatestVersion
		if q != nil {
			name = *q
		}
		fn.Policies = append(fn.Policies, policy{name, pretty.String()})
	}
	return fn, nil
}

// sandboxes names the sandboxes of envs, each once, in order; a sandbox
// that does not say its name is "unknown".
func sandboxes(envs []runtimeapi.EnvironmentInfo) string {
	var names []string
	for _, e := range envs {
		name := e.Sandbox
		if name == "" {
			name = "unknown"
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// sendTarget is the value of the send form's choice of URL.
func sendTarget(fn, qualifier string) string {
	return url.Values{"fn": {fn}, "q": {qualifier}}.Encode()
}

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{"target": sendTarget}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>furl dashboard</title>
<link rel="stylesheet" href="/_furl/static/app.css">
<script src="/_furl/static/app.js" defer></script>
</head><body>
<header><h1>furl</h1><span class="sub">local Lambda function URLs</span></header>
<main>
<section id="functions"><h2>Functions</h2>
{{if not .Functions}}<p class="empty">No functions yet. Deploy one with <code>furl deploy</code> or the AWS CLI.</p>{{end}}
{{range .Functions}}
<article class="function" data-function="{{.Name}}">
<h3>{{.Name}}</h3>
{{if .Description}}<p class="desc">{{.Description}}</p>{{end}}
<dl class="config">
<dt>Runtime</dt><dd class="runtime">{{if .Runtime}}{{.Runtime}}{{else}}{{.PackageType}}{{end}}</dd>
{{if .Handler}}<dt>Handler</dt><dd class="handler">{{.Handler}}</dd>{{end}}
<dt>Memory</dt><dd class="memory">{{.Memory}} MB</dd>
<dt>Timeout</dt><dd class="timeout">{{.Timeout}} s</dd>
<dt>Architecture</dt><dd>{{.Arch}}</dd>
<dt>Reserved concurrency</dt><dd class="reserved">{{.Reserved}}</dd>
{{if .Sandboxes}}<dt>Sandbox</dt><dd class="sandbox">{{.Sandboxes}}</dd>{{end}}
<dt>Last modified</dt><dd>{{.LastModified}}</dd>
{{if .Aliases}}<dt>Aliases</dt><dd class="aliases">{{range .Aliases}}<span>{{.}}</span> {{end}}</dd>{{end}}
</dl>
{{if .Environments}}<h4>Environments</h4>
<ul class="environments">{{range .Environments}}
<li class="environment" data-sandbox="{{.Sandbox}}"><code class="id">{{.ID}}</code> <span class="tag version">{{.Version}}</span> <span class="tag sandbox">{{if .Sandbox}}{{.Sandbox}}{{else}}unknown{{end}}</span> <span class="tag state">{{.State}}</span></li>{{end}}
</ul>{{end}}
<h4>URLs</h4>
{{if not .URLs}}<p class="empty">No function URL.</p>{{end}}
<ul class="urls">{{range .URLs}}
<li><a class="url" href="{{.URL}}" target="_blank" rel="noopener noreferrer">{{.URL}}</a>
<span class="tag">{{.Qualifier}}</span> <span class="tag auth">{{.AuthType}}</span> <span class="tag mode">{{.InvokeMode}}</span>
{{if .Cors}}<code class="cors">CORS {{.Cors}}</code>{{end}}</li>{{end}}
</ul>
<h4>Environment</h4>
{{if not .Env}}<p class="empty">No variables.</p>{{end}}
<table class="env">{{range .Env}}
<tr><th>{{.Name}}</th><td><span class="secret masked" data-value="{{.Value}}">••••••••</span> <button type="button" class="reveal">show</button></td></tr>{{end}}
</table>
<h4>Policies</h4>
{{if not .Policies}}<p class="empty">No resource policy.</p>{{end}}
{{range .Policies}}<details class="policy"><summary>{{.Qualifier}}</summary><pre>{{.Document}}</pre></details>{{end}}
<h4>Log tail</h4>
<pre class="log" data-function="{{.Name}}"></pre>
</article>
{{end}}
</section>
<div class="side">
<section id="live"><h2>Invocations</h2>
{{if not .Live}}<p class="empty">Live invocations are not available.</p>{{end}}
<p class="feedstate" id="feedstate">connecting…</p>
<div class="scroll"><table id="invocations">
<thead><tr><th>time</th><th>function</th><th>version</th><th>kind</th><th>status</th><th>duration</th><th>start</th><th>bytes</th><th>request id</th></tr></thead>
<tbody></tbody></table></div>
</section>
<section id="send"><h2>Send a request</h2>
<form id="sendform">
<label>URL <select name="target">{{range .Functions}}{{$fn := .Name}}{{range .URLs}}<option value="{{target $fn .Qualifier}}">{{$fn}} ({{.Qualifier}}, {{.AuthType}}) {{.URL}}</option>{{end}}{{end}}</select></label>
<label>Method <select name="method"><option>GET</option><option selected>POST</option><option>PUT</option><option>PATCH</option><option>DELETE</option><option>HEAD</option><option>OPTIONS</option></select></label>
<label>Path <input name="path" value="/" spellcheck="false"></label>
<label>Headers <textarea name="headers" rows="3" spellcheck="false" placeholder="content-type: application/json"></textarea></label>
<label>Body <textarea name="body" rows="4" spellcheck="false"></textarea></label>
<button type="submit">Send</button>
</form>
<div id="response" hidden>
<p>Status <strong id="resp-status"></strong> <span id="resp-state"></span></p>
<pre id="resp-headers"></pre>
<pre id="resp-body"></pre>
</div>
</section>
</div>
</main></body></html>
`))

// disabledPage says why the dashboard is off.
var disabledPage = template.Must(template.New("off").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>furl dashboard is off</title></head>
<body><main><h1>The dashboard is off</h1><p id="why">{{.}}</p></main></body></html>
`))

func (h *Handler) disabled(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusForbidden)
	disabledPage.Execute(w, h.cfg.Disabled)
}
