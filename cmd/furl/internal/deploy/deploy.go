// Package deploy is "furl deploy": it makes a folder or a zip a running
// function with a URL on a running furl, over furl's Lambda API, with the
// AWS SDK a user's own tooling would use.
package deploy

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"github.com/furl-dev/furl/cmd/furl/internal/furlctl"
)

// Defaults of the flags.
const (
	// DefaultRole is the execution role new functions get: Lambda requires
	// one, and furl checks only its form.
	DefaultRole = "arn:aws:iam::000000000000:role/furl-deploy"
	// ConfigFile is the file in a folder that gives deploy's settings.
	ConfigFile = "furl.json"
)

// Statement ids of the permissions a public URL needs, as the AWS console
// names them.
const (
	sidURL    = "FunctionURLAllowPublicAccess"
	sidInvoke = "FunctionURLInvokeAllowPublicAccess"
)

// waitTimeout bounds each wait for a function to become ready.
const waitTimeout = 2 * time.Minute

// Config is what a deploy makes. It is furl.json's shape too; flags given
// on the command line win over the file. A nil or zero field is left to
// the default it documents.
type Config struct {
	// Name is the function's name; "" means the folder's (or zip's) base
	// name, sanitized to Lambda's rules.
	Name string `json:"name,omitempty"`
	// Runtime and Handler are inferred from the code when "".
	Runtime string `json:"runtime,omitempty"`
	Handler string `json:"handler,omitempty"`
	// Role is the execution role of a new function; "" means DefaultRole.
	Role string `json:"role,omitempty"`
	// MemorySize (MB) and Timeout (s): 0 leaves Lambda's default on
	// create (128 MB, 3 s) and the current value on update.
	MemorySize int32 `json:"memory,omitempty"`
	Timeout    int32 `json:"timeout,omitempty"`
	// Env replaces the function's variables; nil leaves them as they are.
	Env map[string]string `json:"env,omitempty"`
	// Auth is the URL's auth type, NONE (the default) or AWS_IAM.
	Auth string `json:"auth,omitempty"`
	// Stream makes the URL's invoke mode RESPONSE_STREAM instead of
	// BUFFERED.
	Stream bool `json:"stream,omitempty"`
	// CORSOrigins are the URL's allowed origins; empty leaves the URL's
	// CORS as it is.
	CORSOrigins []string `json:"corsOrigins,omitempty"`
	// CORS is the URL's whole CORS config (credentials, headers, methods,
	// max age besides the origins), sent whole on every deploy; nil leaves
	// it to CORSOrigins. CORSOrigins, when set by a flag, replaces its
	// AllowOrigins.
	CORS *CORS `json:"cors,omitempty"`

	// The rest come from a SAM template only.

	// Architectures is the function's one architecture; nil means
	// Lambda's default (x86_64) on create and no change on update.
	Architectures []string `json:"-"`
	// NoURL makes no URL: the template has no FunctionUrlConfig.
	NoURL bool `json:"-"`
}

// CORS is a URL's CORS config as a template gives it.
type CORS struct {
	AllowCredentials *bool    `json:"allowCredentials,omitempty"`
	AllowHeaders     []string `json:"allowHeaders,omitempty"`
	AllowMethods     []string `json:"allowMethods,omitempty"`
	AllowOrigins     []string `json:"allowOrigins,omitempty"`
	ExposeHeaders    []string `json:"exposeHeaders,omitempty"`
	MaxAge           *int32   `json:"maxAge,omitempty"`
}

// envFlag is a repeatable --env K=V.
type envFlag map[string]string

func (e envFlag) String() string { return "" }
func (e envFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q is not KEY=VALUE", v)
	}
	e[k] = val
	return nil
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// Run is "furl deploy [flags] [DIR|ZIP]"; it returns the exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("furl deploy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	endpoint, region := furlctl.TargetFlags(fs)
	var flags Config
	fs.StringVar(&flags.Name, "name", "", "function name (default: the folder's name)")
	fs.StringVar(&flags.Runtime, "runtime", "", "runtime, like nodejs22.x (default: inferred from the code)")
	fs.StringVar(&flags.Handler, "handler", "", "handler, like index.handler (default: inferred from the code)")
	fs.StringVar(&flags.Role, "role", "", "execution role of a new function (default "+DefaultRole+")")
	memory := fs.Int("memory", 0, "memory in MB (default 128 on create, unchanged on update)")
	timeout := fs.Int("timeout", 0, "timeout in seconds (default 3 on create, unchanged on update)")
	env := envFlag{}
	fs.Var(env, "env", "environment variable KEY=VALUE (repeatable; replaces the function's variables)")
	fs.StringVar(&flags.Auth, "auth", "", "URL auth type, NONE or AWS_IAM (default NONE)")
	fs.BoolVar(&flags.Stream, "stream", false, "stream responses (invoke mode RESPONSE_STREAM)")
	var origins listFlag
	fs.Var(&origins, "cors-origin", "allowed CORS origin of the URL (repeatable)")
	watch := fs.Bool("watch", false, "run the code from the folder itself (hot reload): a save is live for the next request; stays until Ctrl-C")
	build := fs.String("build", "", "with --watch: a shell command run in the folder at start and after every change, like 'go build -o bootstrap .'")
	debug := fs.Bool("debug", false, "log what deploy ignores, like a template's properties it does not use")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: furl deploy [flags] [DIR|ZIP]

Make a folder (default ".") or a zip a function with a URL on a running furl,
creating it or updating it in place. A %[1]s in the folder may give the
same settings as the flags (flags win), and "cors", the URL's whole CORS
config ({"allowOrigins": [...], "allowCredentials": true, ...}); a %[2]s
leaves files out.

A SAM template (template.yaml or template.yml) in the folder makes deploy
deploy each AWS::Serverless::Function in it instead, with its code from
CodeUri (relative to the template; a %[2]s there applies), named by its
FunctionName or else its logical id, and a URL when it has a
FunctionUrlConfig. Globals.Function applies as in SAM; Ref to a parameter
with a Default is resolved, other intrinsic functions in the properties
deploy reads are refused, properties it does not read are ignored. Flags
win over the template for every function (--auth, --stream and
--cors-origin for those with a URL); --name is refused. A folder with both
a template and %[1]s is refused: say which one to read by moving the other.

With --watch, furl runs the code from the folder itself (no zip; furl must run
on this host): the next request after a save runs the saved code, in a fresh
execution environment of this function only. --build runs a command in the
folder at start and after every change (say, 'go build -o bootstrap .').
--watch takes one function's folder, not a template.

In an empty folder, deploy first writes a starter function that streams its
answer (index.mjs and %[1]s), to edit from there.

Flags:
`, ConfigFile, IgnoreFile)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 1 {
		fmt.Fprintln(stderr, "furl deploy: give one folder or zip, not", fs.NArg())
		return 2
	}
	flags.MemorySize, flags.Timeout = int32(*memory), int32(*timeout)
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["env"] {
		flags.Env = env
	}
	flags.CORSOrigins = origins
	src := "."
	if fs.NArg() == 1 {
		src = fs.Arg(0)
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if *build != "" && !*watch {
		fmt.Fprintln(stderr, "furl deploy: --build goes with --watch")
		return 2
	}
	if *watch {
		if err := deployWatch(ctx, src, *endpoint, *region, flags, set, *build, stdout); err != nil {
			fmt.Fprintln(stderr, "furl deploy:", err)
			return 1
		}
		return 0
	}
	if err := deploy(ctx, src, *endpoint, *region, flags, set, stdout, log); err != nil {
		fmt.Fprintln(stderr, "furl deploy:", err)
		return 1
	}
	return 0
}

// pkg is what is deployed: the zip and the files inference reads.
type pkg struct {
	zip  []byte
	fsys fs.FS
	base string
	// ignore is the folder's .furlignore, nil for none.
	ignore *Ignore
	// dir, when set, is the absolute folder furl runs the code from
	// (--watch) instead of zip.
	dir string
	// fromZip is set when the code came as a zip file.
	fromZip bool
}

// load zips a folder, or reads a zip, and reads the folder's furl.json.
func load(src string) (*pkg, Config, error) { return loadFolder(src, true) }

// loadFolder is load; without zipIt a folder is read but not zipped.
func loadFolder(src string, zipIt bool) (*pkg, Config, error) {
	var file Config
	p, err := loadCode(src, zipIt)
	if err != nil || p.fromZip {
		return p, file, err
	}
	if raw, err := os.ReadFile(filepath.Join(src, ConfigFile)); err == nil {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&file); err != nil {
			return nil, file, fmt.Errorf("%s at byte %d: %w", ConfigFile, dec.InputOffset(), err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, file, err
	}
	return p, file, nil
}

// loadCode zips a folder, leaving out what its .furlignore names, or reads
// a zip.
func loadCode(src string, zipIt bool) (*pkg, error) {
	st, err := os.Stat(src)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(src)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		f, err := os.Open(src)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		raw, err := io.ReadAll(io.LimitReader(f, MaxZipBytes+1))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", src, err)
		}
		if len(raw) > MaxZipBytes {
			return nil, fmt.Errorf("%s is over %d MB, AWS's limit for a direct upload: %w", src, MaxZipBytes>>20, ErrTooLarge)
		}
		zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
		if err != nil {
			return nil, fmt.Errorf("%s is neither a folder nor a zip: %w", src, err)
		}
		return &pkg{zip: raw, fsys: zr, base: strings.TrimSuffix(filepath.Base(abs), filepath.Ext(abs)), fromZip: true}, nil
	}
	var ig *Ignore
	if f, err := os.Open(filepath.Join(src, IgnoreFile)); err == nil {
		ig, err = ParseIgnore(f)
		f.Close()
		if err != nil {
			return nil, err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	p := &pkg{fsys: os.DirFS(src), base: filepath.Base(abs), ignore: ig}
	if zipIt {
		if p.zip, err = ZipDir(src, ig, MaxZipBytes); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// merge lays the flags that were set over the file's settings.
func merge(file, flags Config, set map[string]bool) Config {
	c := file
	if set["name"] {
		c.Name = flags.Name
	}
	if set["runtime"] {
		c.Runtime = flags.Runtime
	}
	if set["handler"] {
		c.Handler = flags.Handler
	}
	if set["role"] {
		c.Role = flags.Role
	}
	if set["memory"] {
		c.MemorySize = flags.MemorySize
	}
	if set["timeout"] {
		c.Timeout = flags.Timeout
	}
	if set["env"] {
		c.Env = flags.Env
	}
	if set["auth"] {
		c.Auth = flags.Auth
	}
	if set["stream"] {
		c.Stream = flags.Stream
	}
	if set["cors-origin"] {
		c.CORSOrigins = flags.CORSOrigins
		if c.CORS != nil {
			cors := *c.CORS
			cors.AllowOrigins = flags.CORSOrigins
			c.CORS = &cors
		}
	}
	return c
}

func deploy(ctx context.Context, src, endpoint, region string, flags Config, set map[string]bool, stdout io.Writer, log *slog.Logger) error {
	if _, err := writeStarter(src, stdout); err != nil {
		return err
	}
	tmpl, err := findTemplate(src)
	if err != nil {
		return err
	}
	client := furlctl.Client(endpoint, region)
	if tmpl != "" {
		return deployTemplate(ctx, client, tmpl, endpoint, region, flags, set, stdout, log)
	}
	p, file, err := load(src)
	if err != nil {
		return err
	}
	return deployPkg(ctx, client, p, file, endpoint, region, flags, set, stdout)
}

// deployWatch is deploy --watch: the folder becomes a hot-reload function
// (furl runs the code from it, so a save is live for the next request),
// then, until ctx ends, build (if given) runs in the folder after every
// change.
func deployWatch(ctx context.Context, src, endpoint, region string, flags Config, set map[string]bool, build string, stdout io.Writer) error {
	dir, err := absDir(src)
	if err != nil {
		return err
	}
	if _, err := writeStarter(dir, stdout); err != nil {
		return err
	}
	if tmpl, err := findTemplate(dir); err != nil {
		return err
	} else if tmpl != "" {
		return fmt.Errorf("--watch runs one function from its folder, and %s holds a SAM template: give --watch the folder of one function's code (its CodeUri)", dir)
	}
	p, file, err := loadFolder(dir, false)
	if err != nil {
		return err
	}
	p.dir = dir
	var w *watcher
	if build != "" {
		// The first build comes before inference: a Go function has no
		// bootstrap to find until it is built.
		w = newWatcher(dir, build, p.ignore, stdout)
		if !w.once(ctx) {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("the first build failed: fix it and start again")
		}
	}
	if err := deployPkg(ctx, furlctl.Client(endpoint, region), p, file, endpoint, region, flags, set, stdout); err != nil {
		return err
	}
	fmt.Fprintln(stdout, watchHint(dir, w != nil))
	if w != nil {
		w.loop(ctx)
	} else {
		<-ctx.Done()
	}
	return nil
}

func deployPkg(ctx context.Context, client *lambda.Client, p *pkg, file Config, endpoint, region string, flags Config, set map[string]bool, stdout io.Writer) error {
	c := merge(file, flags, set)
	if c.Name == "" {
		if c.Name = SanitizeName(p.base); c.Name == "" {
			return fmt.Errorf("cannot make a function name of %q: give --name", p.base)
		}
	}
	return deployOne(ctx, client, endpoint, region, c, p, stdout)
}

// findTemplate is the SAM template in folder src, or "" when src is a
// zip or holds none.
func findTemplate(src string) (string, error) {
	st, err := os.Stat(src)
	if err != nil || !st.IsDir() {
		return "", err
	}
	for _, name := range TemplateFiles {
		p := filepath.Join(src, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
	}
	return "", nil
}

// deployTemplate deploys each function of a SAM template, in the order of
// their logical ids. Flags win over the template, for every function; the
// URL's flags apply to the functions that have a FunctionUrlConfig.
func deployTemplate(ctx context.Context, client *lambda.Client, tmpl, endpoint, region string, flags Config, set map[string]bool, stdout io.Writer, log *slog.Logger) error {
	dir := filepath.Dir(tmpl)
	// furl.json and a template would both say what to deploy; rather
	// than have one silently lose, deploy asks for one of them.
	if _, err := os.Stat(filepath.Join(dir, ConfigFile)); err == nil {
		return fmt.Errorf("%s holds both %s and %s: furl deploy reads one of them; move %s away, or give the settings as flags", dir, filepath.Base(tmpl), ConfigFile, ConfigFile)
	}
	if set["name"] {
		return fmt.Errorf("--name with %s: a template names its functions (FunctionName, or the logical id)", filepath.Base(tmpl))
	}
	f, err := os.Open(tmpl)
	if err != nil {
		return err
	}
	raw, err := io.ReadAll(io.LimitReader(f, MaxTemplateBytes+1))
	f.Close()
	if err != nil {
		return fmt.Errorf("read %s: %w", tmpl, err)
	}
	fns, err := ParseTemplate(raw, log)
	if err != nil {
		return fmt.Errorf("%s: %w", tmpl, err)
	}
	for _, fn := range fns {
		code := fn.CodeURI
		if !filepath.IsAbs(code) {
			code = filepath.Join(dir, code)
		}
		p, err := loadCode(code, true)
		if err != nil {
			return fmt.Errorf("%s (CodeUri of %s): %w", code, fn.LogicalID, err)
		}
		c := merge(fn.Config, flags, set)
		if err := deployOne(ctx, client, endpoint, region, c, p, stdout); err != nil {
			return fmt.Errorf("%s: %w", fn.LogicalID, err)
		}
	}
	return nil
}

// deployOne makes one function, its URL and the URL's permissions.
func deployOne(ctx context.Context, client *lambda.Client, endpoint, region string, c Config, p *pkg, stdout io.Writer) error {
	var err error
	if c.Role == "" {
		c.Role = DefaultRole
	}
	switch c.Auth = strings.ToUpper(c.Auth); c.Auth {
	case "":
		c.Auth = string(types.FunctionUrlAuthTypeNone)
	case string(types.FunctionUrlAuthTypeNone), string(types.FunctionUrlAuthTypeAwsIam):
	default:
		return fmt.Errorf("--auth %q is not NONE or AWS_IAM", c.Auth)
	}
	if c.Runtime, c.Handler, err = Infer(p.fsys, c.Runtime, c.Handler); err != nil {
		return err
	}
	d := &deployer{client: client, endpoint: endpoint, c: c}
	if err := d.function(ctx, p); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s %s (%s, %s)\n", d.verb, c.Name, c.Runtime, c.Handler)
	if c.NoURL {
		fmt.Fprintln(stdout, "no URL (the template gives no FunctionUrlConfig)")
		return nil
	}
	url, err := d.url(ctx)
	if err != nil {
		return err
	}
	if c.Auth == string(types.FunctionUrlAuthTypeNone) {
		if err := d.permissions(ctx); err != nil {
			return err
		}
	}
	fmt.Fprintln(stdout, url)
	fmt.Fprintln(stdout, curlLine(url, c.Stream, c.Auth, region))
	return nil
}

// curlLine is a ready command that calls the URL.
func curlLine(url string, stream bool, auth, region string) string {
	args := []string{"curl"}
	if stream {
		args = append(args, "-N")
	}
	if strings.HasPrefix(url, "https://") {
		args = append(args, `--cacert "$(furl ca --path)"`)
	}
	if auth == string(types.FunctionUrlAuthTypeAwsIam) {
		args = append(args, "--aws-sigv4 aws:amz:"+region+":lambda --user \"$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY\"")
	}
	return strings.Join(append(args, url), " ")
}

type deployer struct {
	client   *lambda.Client
	endpoint string
	c        Config
	// verb says what happened to the function, for the summary line.
	verb string
}

// callErr turns an error of a call into the line deploy prints: a furl
// that cannot be reached is named as such.
func (d *deployer) callErr(op string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return fmt.Errorf("%s: %w", op, err)
	}
	return fmt.Errorf("cannot reach furl at %s (is \"furl serve\" running? --endpoint or FURL_ENDPOINT names another): %w", d.endpoint, err)
}

func notFound(err error) bool {
	var nf *types.ResourceNotFoundException
	return errors.As(err, &nf)
}

// function creates the function, or updates its code and configuration.
func (d *deployer) function(ctx context.Context, p *pkg) error {
	c := d.c
	code := &types.FunctionCode{ZipFile: p.zip}
	if p.dir != "" {
		code = &types.FunctionCode{S3Bucket: aws.String(hotReloadBucket), S3Key: aws.String(p.dir)}
	}
	name := aws.String(c.Name)
	var env *types.Environment
	if c.Env != nil {
		env = &types.Environment{Variables: c.Env}
	}
	var mem, tmo *int32
	if c.MemorySize != 0 {
		mem = aws.Int32(c.MemorySize)
	}
	if c.Timeout != 0 {
		tmo = aws.Int32(c.Timeout)
	}
	cur, err := d.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: name})
	if notFound(err) {
		if _, err := d.client.CreateFunction(ctx, &lambda.CreateFunctionInput{
			FunctionName: name, Runtime: types.Runtime(c.Runtime), Handler: aws.String(c.Handler), Role: aws.String(c.Role),
			Code: code, MemorySize: mem, Timeout: tmo, Environment: env,
			Architectures: archs(c.Architectures),
		}); err != nil {
			return d.callErr("CreateFunction", err)
		}
		d.verb = "created"
		return d.wait(lambda.NewFunctionActiveV2Waiter(d.client).Wait(ctx, d.getInput(), waitTimeout))
	}
	if err != nil {
		return d.callErr("GetFunction", err)
	}
	d.verb = "updated"
	// The zip is deterministic, so an unchanged folder needs no upload;
	// a function already running from the folder needs no update. The
	// architecture changes with the code, as on AWS.
	update := &lambda.UpdateFunctionCodeInput{FunctionName: name, ZipFile: p.zip, Architectures: archs(c.Architectures)}
	changed := aws.ToString(cur.Configuration.CodeSha256) != codeSha256(p.zip)
	if p.dir != "" {
		update = &lambda.UpdateFunctionCodeInput{FunctionName: name, S3Bucket: code.S3Bucket, S3Key: code.S3Key, Architectures: archs(c.Architectures)}
		changed = aws.ToString(cur.Configuration.CodeSha256) != hotReloadSha256 ||
			cur.Code == nil || aws.ToString(cur.Code.Location) != (&url.URL{Scheme: "file", Path: p.dir}).String()
	}
	if c.Architectures != nil && !slices.Equal(archNames(cur.Configuration.Architectures), c.Architectures) {
		changed = true
	}
	if changed {
		if _, err := d.client.UpdateFunctionCode(ctx, update); err != nil {
			return d.callErr("UpdateFunctionCode", err)
		}
		// AWS refuses a configuration update while the code update is in
		// progress.
		if err := d.wait(lambda.NewFunctionUpdatedV2Waiter(d.client).Wait(ctx, d.getInput(), waitTimeout)); err != nil {
			return err
		}
	}
	if _, err := d.client.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: name, Runtime: types.Runtime(c.Runtime), Handler: aws.String(c.Handler), MemorySize: mem, Timeout: tmo, Environment: env,
	}); err != nil {
		return d.callErr("UpdateFunctionConfiguration", err)
	}
	return d.wait(lambda.NewFunctionUpdatedV2Waiter(d.client).Wait(ctx, d.getInput(), waitTimeout))
}

func archs(names []string) []types.Architecture {
	var out []types.Architecture
	for _, n := range names {
		out = append(out, types.Architecture(n))
	}
	return out
}

func archNames(as []types.Architecture) []string {
	var out []string
	for _, a := range as {
		out = append(out, string(a))
	}
	return out
}

func (d *deployer) getInput() *lambda.GetFunctionInput {
	return &lambda.GetFunctionInput{FunctionName: aws.String(d.c.Name)}
}

// wait words the end of one of the SDK's waiters on the function.
func (d *deployer) wait(err error) error {
	if err != nil {
		return fmt.Errorf("waiting for %s to be ready: %w", d.c.Name, err)
	}
	return nil
}

func codeSha256(zipped []byte) string {
	sum := sha256.Sum256(zipped)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// url creates the function's URL config, or updates its auth type,
// invoke mode and CORS origins where they differ; the URL id stays.
func (d *deployer) url(ctx context.Context) (string, error) {
	c := d.c
	mode := types.InvokeModeBuffered
	if c.Stream {
		mode = types.InvokeModeResponseStream
	}
	var cors *types.Cors
	if c.CORS != nil {
		cors = &types.Cors{AllowCredentials: c.CORS.AllowCredentials, AllowHeaders: c.CORS.AllowHeaders, AllowMethods: c.CORS.AllowMethods,
			AllowOrigins: c.CORS.AllowOrigins, ExposeHeaders: c.CORS.ExposeHeaders, MaxAge: c.CORS.MaxAge}
	} else if len(c.CORSOrigins) > 0 {
		cors = &types.Cors{AllowOrigins: c.CORSOrigins}
	}
	name := aws.String(c.Name)
	cur, err := d.client.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: name})
	if notFound(err) {
		out, err := d.client.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{
			FunctionName: name, AuthType: types.FunctionUrlAuthType(c.Auth), InvokeMode: mode, Cors: cors,
		})
		if err != nil {
			return "", d.callErr("CreateFunctionUrlConfig", err)
		}
		return aws.ToString(out.FunctionUrl), nil
	}
	if err != nil {
		return "", d.callErr("GetFunctionUrlConfig", err)
	}
	curMode := cur.InvokeMode
	if curMode == "" {
		curMode = types.InvokeModeBuffered
	}
	var curOrigins []string
	if cur.Cors != nil {
		curOrigins = cur.Cors.AllowOrigins
	}
	// A whole CORS config (a template's, furl.json's cors) is always sent.
	if string(cur.AuthType) == c.Auth && curMode == mode && c.CORS == nil && (cors == nil || slices.Equal(curOrigins, c.CORSOrigins)) {
		return aws.ToString(cur.FunctionUrl), nil
	}
	in := &lambda.UpdateFunctionUrlConfigInput{FunctionName: name, AuthType: types.FunctionUrlAuthType(c.Auth), InvokeMode: mode}
	if c.CORS != nil {
		in.Cors = cors
	} else if cors != nil {
		// Only the origins are deploy's to say; the rest of the CORS
		// config stays.
		merged := types.Cors{AllowOrigins: c.CORSOrigins}
		if cur.Cors != nil {
			merged = *cur.Cors
			merged.AllowOrigins = c.CORSOrigins
		}
		in.Cors = &merged
	}
	out, err := d.client.UpdateFunctionUrlConfig(ctx, in)
	if err != nil {
		return "", d.callErr("UpdateFunctionUrlConfig", err)
	}
	return aws.ToString(out.FunctionUrl), nil
}

// permissions adds the two statements a NONE URL needs to be public, as
// the AWS console does, unless the policy has them already.
func (d *deployer) permissions(ctx context.Context) error {
	name := aws.String(d.c.Name)
	have := map[string]bool{}
	pol, err := d.client.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: name})
	switch {
	case notFound(err):
	case err != nil:
		return d.callErr("GetPolicy", err)
	default:
		var doc struct {
			Statement []struct {
				Sid string `json:"Sid"`
			} `json:"Statement"`
		}
		if err := json.Unmarshal([]byte(aws.ToString(pol.Policy)), &doc); err != nil {
			return fmt.Errorf("read %s's policy: %w", d.c.Name, err)
		}
		for _, s := range doc.Statement {
			have[s.Sid] = true
		}
	}
	wanted := []*lambda.AddPermissionInput{
		{FunctionName: name, StatementId: aws.String(sidURL), Action: aws.String("lambda:InvokeFunctionUrl"),
			Principal: aws.String("*"), FunctionUrlAuthType: types.FunctionUrlAuthTypeNone},
		{FunctionName: name, StatementId: aws.String(sidInvoke), Action: aws.String("lambda:InvokeFunction"),
			Principal: aws.String("*"), InvokedViaFunctionUrl: aws.Bool(true)},
	}
	for _, in := range wanted {
		if have[aws.ToString(in.StatementId)] {
			continue
		}
		if _, err := d.client.AddPermission(ctx, in); err != nil {
			return d.callErr("AddPermission "+aws.ToString(in.StatementId), err)
		}
	}
	return nil
}
