package furlctl

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// Function is one function as furl ls shows it.
type Function struct {
	Name        string `json:"Name"`
	Runtime     string `json:"Runtime,omitempty"`
	Image       string `json:"Image,omitempty"`
	PackageType string `json:"PackageType"`
	State       string `json:"State,omitempty"`
	MemoryMB    int32  `json:"MemorySize"`
	TimeoutSec  int32  `json:"Timeout"`
	// Reserved is the reserved concurrency, nil when none is set.
	Reserved *int32   `json:"ReservedConcurrentExecutions,omitempty"`
	Aliases  []string `json:"Aliases,omitempty"`
	URLs     []URL    `json:"Urls,omitempty"`
	// Environments are the live execution environments furl reports: []
	// for none, null when the endpoint does not say (it is not a furl), so
	// a script can tell the two apart.
	Environments []Environment `json:"Environments"`
}

// URL is one function URL.
type URL struct {
	URL         string   `json:"FunctionUrl"`
	Function    string   `json:"Function"`
	Qualifier   string   `json:"Qualifier,omitempty"`
	AuthType    string   `json:"AuthType"`
	InvokeMode  string   `json:"InvokeMode"`
	CORSOrigins []string `json:"CorsAllowOrigins,omitempty"`
}

// Environment is a live execution environment, as GET /_furl/environments
// describes it.
type Environment struct {
	Function string `json:"Function"`
	Version  string `json:"Version"`
	Sandbox  string `json:"Sandbox"`
	State    string `json:"State"`
}

// Ls is "furl ls": the functions of a running furl.
func Ls(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("furl ls", flag.ContinueOnError)
	fs.SetOutput(stderr)
	endpoint, region := targetFlags(fs, osEnv)
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: furl ls [flags]\n\nList the functions of a running furl: runtime, state, limits, URLs and the sandbox\nthat runs them.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "furl ls: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	t := newTarget(osEnv, *endpoint, *region)
	ctx, cancel := commandContext()
	defer cancel()
	fns, err := listFunctions(ctx, t)
	if err != nil {
		fmt.Fprintln(stderr, "furl ls:", describe(t.Endpoint, err))
		return 1
	}
	if *asJSON {
		return writeJSON(stdout, stderr, fns)
	}
	writeFunctions(stdout, fns)
	return 0
}

// Urls is "furl urls": every function URL of a running furl.
func Urls(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("furl urls", flag.ContinueOnError)
	fs.SetOutput(stderr)
	endpoint, region := targetFlags(fs, osEnv)
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: furl urls [flags]\n\nList every function URL of a running furl with its function, qualifier, auth type,\ninvoke mode and CORS origins.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "furl urls: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	t := newTarget(osEnv, *endpoint, *region)
	ctx, cancel := commandContext()
	defer cancel()
	c := t.client()
	names, err := functionNames(ctx, c)
	urls := []URL{} // none is [] in JSON, not null
	for _, name := range names {
		if err != nil {
			break
		}
		var u []URL
		u, err = functionURLs(ctx, c, name)
		urls = append(urls, u...)
	}
	if err != nil {
		fmt.Fprintln(stderr, "furl urls:", describe(t.Endpoint, err))
		return 1
	}
	if *asJSON {
		return writeJSON(stdout, stderr, urls)
	}
	writeURLs(stdout, urls)
	return 0
}

func writeJSON(stdout, stderr io.Writer, v any) int {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintln(stderr, "furl:", err)
		return 1
	}
	return 0
}

// functionNames lists every function's name, page by page.
func functionNames(ctx context.Context, c *lambda.Client) ([]string, error) {
	var names []string
	p := lambda.NewListFunctionsPaginator(c, &lambda.ListFunctionsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("ListFunctions: %w", err)
		}
		for _, f := range page.Functions {
			names = append(names, aws.ToString(f.FunctionName))
		}
	}
	return names, nil
}

// functionURLs lists a function's URLs, on every qualifier.
func functionURLs(ctx context.Context, c *lambda.Client, name string) ([]URL, error) {
	var urls []URL
	p := lambda.NewListFunctionUrlConfigsPaginator(c, &lambda.ListFunctionUrlConfigsInput{FunctionName: aws.String(name)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("ListFunctionUrlConfigs %s: %w", name, err)
		}
		for _, u := range page.FunctionUrlConfigs {
			url := URL{URL: aws.ToString(u.FunctionUrl), Function: name, Qualifier: qualifierOf(aws.ToString(u.FunctionArn)),
				AuthType: string(u.AuthType), InvokeMode: string(u.InvokeMode)}
			if url.InvokeMode == "" {
				// AWS omits the mode of a URL created before modes existed.
				url.InvokeMode = "BUFFERED"
			}
			if u.Cors != nil {
				url.CORSOrigins = u.Cors.AllowOrigins
			}
			urls = append(urls, url)
		}
	}
	return urls, nil
}

// qualifierOf is the qualifier of a function ARN
// (arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]), or "".
func qualifierOf(arn string) string {
	parts := strings.Split(arn, ":")
	if len(parts) == 8 {
		return parts[7]
	}
	return ""
}

// listFunctions gathers what furl ls shows: each function's configuration,
// aliases and URLs from the Lambda API, and the live environments from
// furl's own view, when the endpoint has one.
func listFunctions(ctx context.Context, t target) ([]Function, error) {
	c := t.client()
	names, err := functionNames(ctx, c)
	if err != nil {
		return nil, err
	}
	envs, haveEnvs, err := environments(ctx, t)
	if err != nil {
		return nil, err
	}
	fns := make([]Function, 0, len(names))
	for _, name := range names {
		out, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)})
		if err != nil {
			return nil, fmt.Errorf("GetFunction %s: %w", name, err)
		}
		cfg := out.Configuration
		fn := Function{Name: name, Runtime: string(cfg.Runtime), PackageType: string(cfg.PackageType), State: string(cfg.State),
			MemoryMB: aws.ToInt32(cfg.MemorySize), TimeoutSec: aws.ToInt32(cfg.Timeout)}
		if fn.PackageType == "" {
			fn.PackageType = "Zip"
		}
		if out.Code != nil {
			fn.Image = aws.ToString(out.Code.ImageUri)
		}
		if out.Concurrency != nil {
			fn.Reserved = out.Concurrency.ReservedConcurrentExecutions
		}
		aliases := lambda.NewListAliasesPaginator(c, &lambda.ListAliasesInput{FunctionName: aws.String(name)})
		for aliases.HasMorePages() {
			page, err := aliases.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("ListAliases %s: %w", name, err)
			}
			for _, a := range page.Aliases {
				fn.Aliases = append(fn.Aliases, aws.ToString(a.Name)+":"+aws.ToString(a.FunctionVersion))
			}
		}
		if fn.URLs, err = functionURLs(ctx, c, name); err != nil {
			return nil, err
		}
		if haveEnvs {
			fn.Environments = []Environment{}
			for _, e := range envs {
				if e.Function == name {
					fn.Environments = append(fn.Environments, e)
				}
			}
		}
		fns = append(fns, fn)
	}
	return fns, nil
}

// environments asks furl for its live environments. An endpoint without
// that view (an older furl, or not furl) answers 404: ls then leaves the
// sandbox out rather than fail.
func environments(ctx context.Context, t target) ([]Environment, bool, error) {
	resp, err := t.getSigned(ctx, "/_furl/environments")
	if err != nil {
		return nil, false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, false, nil
	}
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return nil, false, fmt.Errorf("GET /_furl/environments: %s %s: %s", resp.Status, resp.Header.Get("X-Amzn-Errortype"), strings.TrimSpace(string(raw)))
	}
	var body struct{ Environments []Environment }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, false, fmt.Errorf("GET /_furl/environments: %w", err)
	}
	return body.Environments, true, nil
}

// writeFunctions prints the functions as a table: one line per function,
// and one more per URL past the first.
func writeFunctions(w io.Writer, fns []Function) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tRUNTIME\tTYPE\tSTATE\tMEMORY\tTIMEOUT\tRESERVED\tALIASES\tSANDBOX\tURL\tAUTH\tMODE")
	for _, f := range fns {
		runtime := f.Runtime
		if f.Image != "" {
			runtime = f.Image
		}
		reserved := "-"
		if f.Reserved != nil {
			reserved = strconv.Itoa(int(*f.Reserved))
		}
		head := []string{f.Name, orDash(runtime), f.PackageType, orDash(f.State), fmt.Sprintf("%d MB", f.MemoryMB),
			fmt.Sprintf("%d s", f.TimeoutSec), reserved, orDash(strings.Join(f.Aliases, ",")), sandboxSummary(f.Environments)}
		if len(f.URLs) == 0 {
			fmt.Fprintln(tw, strings.Join(append(head, "-", "-", "-"), "\t"))
			continue
		}
		for i, u := range f.URLs {
			if i > 0 {
				// Further URLs line up under the first, the function's
				// columns left blank.
				head = make([]string, len(head))
			}
			fmt.Fprintln(tw, strings.Join(append(head, urlCell(u), u.AuthType, u.InvokeMode), "\t"))
		}
	}
	tw.Flush()
}

// urlCell is a URL, followed by its alias or version when it has one.
func urlCell(u URL) string {
	if u.Qualifier != "" {
		return u.URL + " (" + u.Qualifier + ")"
	}
	return u.URL
}

// sandboxSummary says where a function's environments run and in which
// states: "process: 1 busy, 2 idle", "none live", or "-" when the endpoint
// does not say (envs is nil).
func sandboxSummary(envs []Environment) string {
	if envs == nil {
		return "-"
	}
	if len(envs) == 0 {
		return "none live"
	}
	counts := map[string]map[string]int{}
	for _, e := range envs {
		sb := e.Sandbox
		if sb == "" {
			sb = "unknown"
		}
		if counts[sb] == nil {
			counts[sb] = map[string]int{}
		}
		counts[sb][e.State]++
	}
	var parts []string
	for _, sb := range sortedKeys(counts) {
		var states []string
		for _, st := range sortedKeys(counts[sb]) {
			states = append(states, fmt.Sprintf("%d %s", counts[sb][st], st))
		}
		parts = append(parts, sb+": "+strings.Join(states, ", "))
	}
	return strings.Join(parts, "; ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// writeURLs prints the URLs as a table.
func writeURLs(w io.Writer, urls []URL) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "URL\tFUNCTION\tQUALIFIER\tAUTH\tMODE\tCORS ORIGINS")
	for _, u := range urls {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.URL, u.Function, orDash(u.Qualifier), u.AuthType, u.InvokeMode, orDash(strings.Join(u.CORSOrigins, ",")))
	}
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
