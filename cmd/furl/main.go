// Command furl is a local AWS Lambda function URL gateway: it serves the
// Lambda API and, on the same port, the function URLs of the functions it
// holds.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/furl-dev/furl/authz"
	"github.com/furl-dev/furl/cmd/furl/internal/deploy"
	"github.com/furl-dev/furl/cmd/furl/internal/furlctl"
	"github.com/furl-dev/furl/gateway"
	"github.com/furl-dev/furl/gateway/connlimit"
	"github.com/furl-dev/furl/gateway/dashboard"
	"github.com/furl-dev/furl/gateway/feed"
	"github.com/furl-dev/furl/gateway/metrics"
	"github.com/furl-dev/furl/gateway/tlsca"
	"github.com/furl-dev/furl/runtimeapi"
	"github.com/furl-dev/furl/runtimeapi/pick"
	"github.com/furl-dev/furl/runtimeapi/process"
	"github.com/furl-dev/furl/urlconfig"
)

// shutdownGrace is how long in-flight requests get to finish on SIGINT or
// SIGTERM.
const shutdownGrace = 5 * time.Second

// Limits of the HTTP server's connections.
const (
	// readHeaderTimeout bounds how long a client may take to send a
	// request's line and headers.
	readHeaderTimeout = 30 * time.Second
	// idleConnTimeout closes keep-alive connections unused this long:
	// longer than the idle timeout of Go's HTTP client and the AWS SDK for
	// Go (90 s), so that a client seldom reuses a connection furl is
	// closing.
	idleConnTimeout = 2 * time.Minute
	// maxHeaderBytes is AWS's quota for a request's line and headers
	// together, 1 MB (Lambda quotas, invocation payload). Go's server reads
	// up to 4 KB past it before it answers 431.
	maxHeaderBytes = 1 << 20
)

// connLimits bounds how long and how much a client may take on one of
// furl's listeners. serve gives every listener, plain and TLS, the
// constants above; a test gives short ones, to see them act.
type connLimits struct {
	readHeader, idle time.Duration
	maxHeaderBytes   int
}

const usage = `furl: a local AWS Lambda function URL gateway with real response streaming.

Usage:
  furl serve [flags]    start the server (run "furl serve --help" for its flags)
  furl ca [--path]      print the local CA's root certificate file and fingerprint
  furl trust [flags]    trust the local CA in the system store and browsers (--uninstall undoes it)
  furl deploy [DIR|ZIP] make a folder or zip a function with a URL on a running furl ("furl deploy --help")
  furl deploy --watch [--build CMD] DIR
                        run a folder's code as it is saved (hot reload); CMD rebuilds it after each change
  furl ls [--json]      list a running furl's functions: runtime, state, limits, URLs, sandbox
  furl urls [--json]    list a running furl's function URLs
  furl invoke FUNCTION [--payload JSON|@FILE] [--qualifier Q] [--stream] [--log]
                        invoke a function of a running furl and print its response
  furl logs FUNCTION [-f]
                        print a function's recent log lines; -f follows new ones
  furl version          print furl's version
  furl help             print this text

furl serves the Lambda API (point the AWS CLI or an SDK at it with
--endpoint-url or AWS_ENDPOINT_URL_LAMBDA) and, on the same ports, the
function URLs of the functions it holds, at
https://<url-id>.lambda-url.<region>.localhost:4443/ (run "furl trust" once)
and http://<url-id>.lambda-url.<region>.localhost:4580/.
`

func main() {
	// furl's binary is also the supervisor of each execution environment.
	process.RunSupervisorIfAsked()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stdout, stderr)
	case "ca":
		return caCommand(args[1:], stdout, stderr)
	case "trust":
		return trustCommand(args[1:], stdout, stderr)
	case "deploy":
		// Ctrl-C ends "deploy --watch" (and a deploy under way) cleanly.
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		return deploy.Run(ctx, args[1:], stdout, stderr)
	case "ls":
		return furlctl.Ls(args[1:], stdout, stderr)
	case "urls":
		return furlctl.Urls(args[1:], stdout, stderr)
	case "invoke":
		return furlctl.Invoke(args[1:], stdout, stderr)
	case "logs":
		return furlctl.Logs(args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "furl", version())
		return 0
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "furl: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

// serveConfig is what "furl serve" runs with.
type serveConfig struct {
	Listen string
	// ListenTLS is --listen-tls: the address of the HTTPS listener, or ""
	// for none.
	ListenTLS          string
	DataDir            string
	Region             string
	AccountID          string
	LogLevel           string
	AccountConcurrency int
	IdleTimeout        time.Duration
	URLPermissions     string
	StreamBandwidth    string
	StreamMaxBytes     int64
	IAMConfig          string
	VerifyAPI          bool
	MaxEnvMemoryMB     int
	EventQueueBytes    int64
	EventQueueEvents   int
	EventWorkers       int
	EventTimeScale     float64
	// AllowedHosts is --allowed-hosts: names separated by commas.
	AllowedHosts string
	// MaxConnections caps the open connections; 0 derives the cap from
	// the open-file limit.
	MaxConnections int
	// Sandbox is --sandbox: process, docker or auto.
	Sandbox string
	// Images is --image: runtime identifiers mapped to the images their
	// functions run on in Docker, over AWS's base images.
	Images imageMap
	// RuntimePaths is --runtime-path: runtime identifiers mapped to the
	// interpreters their functions run on in the process sandbox.
	RuntimePaths runtimePathMap
	// DockerNetwork is the network containers join: host, or a Docker
	// network's name.
	DockerNetwork string
	// RuntimeAPIHost is the name containers on a non-host network reach
	// furl by.
	RuntimeAPIHost string
	// Pull says whether missing images are pulled.
	Pull bool
	// Pprof is --pprof: a loopback host:port serving net/http/pprof's
	// profiles, or "" (the default) for none.
	Pprof string
	// envError is a FURL_* variable that could not be read.
	envError error
}

var (
	regionPattern  = regexp.MustCompile(`^[a-z]{2}(-gov)?-[a-z]+-\d$`)
	accountPattern = regexp.MustCompile(`^\d{12}$`)
)

// maxStreamMaxBytes bounds --stream-max-bytes: far above AWS's 200 MB, far
// below where byte counts could overflow.
const maxStreamMaxBytes = 1 << 40

// Bounds of the asynchronous queue's flags: the queue must hold at least
// one largest (1 MB) event, and the workers are goroutines and
// environments, so a typo must not start a million.
const (
	minEventQueueBytes = 1 << 20
	maxEventWorkers    = 1000
)

// Validate reports the first setting furl cannot run with.
func (c serveConfig) Validate() error {
	switch {
	case c.envError != nil:
		return c.envError
	case !regionPattern.MatchString(c.Region):
		return fmt.Errorf("--region %q is not an AWS region name (like us-east-1)", c.Region)
	case !accountPattern.MatchString(c.AccountID):
		return fmt.Errorf("--account-id %q is not a 12-digit AWS account id", c.AccountID)
	case c.AccountConcurrency < 1:
		return fmt.Errorf("--account-concurrency must be at least 1, not %d", c.AccountConcurrency)
	case c.MaxEnvMemoryMB < 128:
		return fmt.Errorf("--max-env-memory must be at least 128 (MB), not %d", c.MaxEnvMemoryMB)
	case c.IdleTimeout <= 0:
		return fmt.Errorf("--idle-timeout must be positive, not %s", c.IdleTimeout)
	case c.URLPermissions != gateway.PermissionsAWS && c.URLPermissions != gateway.PermissionsLegacy && c.URLPermissions != gateway.PermissionsOpen:
		return fmt.Errorf("--url-permissions %q is not one of aws, legacy, open", c.URLPermissions)
	case c.StreamBandwidth != gateway.StreamUnshaped && c.StreamBandwidth != gateway.StreamAWS:
		return fmt.Errorf("--stream-bandwidth %q is not one of unshaped, aws", c.StreamBandwidth)
	case c.StreamMaxBytes < 1 || c.StreamMaxBytes > maxStreamMaxBytes:
		return fmt.Errorf("--stream-max-bytes must be from 1 to %d (1 TiB), not %d", int64(maxStreamMaxBytes), c.StreamMaxBytes)
	case c.DataDir == "":
		return errors.New("--data-dir is empty and there is no home directory to default to")
	case c.EventQueueBytes < minEventQueueBytes:
		return fmt.Errorf("--event-queue-max-bytes must be at least %d (one largest event), not %d", minEventQueueBytes, c.EventQueueBytes)
	case c.EventQueueEvents < 1:
		return fmt.Errorf("--event-queue-max-events must be at least 1, not %d", c.EventQueueEvents)
	case c.EventWorkers < 1 || c.EventWorkers > maxEventWorkers:
		return fmt.Errorf("--event-workers must be from 1 to %d, not %d", maxEventWorkers, c.EventWorkers)
	case !(c.EventTimeScale > 0 && c.EventTimeScale <= 1):
		return fmt.Errorf("--event-time-scale must be above 0 and at most 1, not %g", c.EventTimeScale)
	case c.MaxConnections < 0:
		return fmt.Errorf("--max-connections must be 0 (derived from the open-file limit) or more, not %d", c.MaxConnections)
	}
	if c.ListenTLS != "" {
		if _, _, err := net.SplitHostPort(c.ListenTLS); err != nil {
			return fmt.Errorf("--listen-tls %q is not host:port (give an empty value for no HTTPS)", c.ListenTLS)
		}
		if _, port, _ := net.SplitHostPort(c.ListenTLS); c.ListenTLS == c.Listen && port != "0" {
			return fmt.Errorf("--listen-tls and --listen are both %s: give them different ports", c.Listen)
		}
	}
	if c.Pprof != "" {
		if err := loopbackAddr(c.Pprof); err != nil {
			return err
		}
		if _, port, _ := net.SplitHostPort(c.Pprof); port != "0" && (c.Pprof == c.Listen || c.Pprof == c.ListenTLS) {
			return fmt.Errorf("--pprof %s is the address of furl's API: give it a port of its own", c.Pprof)
		}
	}
	if _, err := pick.ParseMode(c.Sandbox); err != nil {
		return fmt.Errorf("--sandbox: %w", err)
	}
	if c.DockerNetwork == "" {
		return errors.New("--docker-network is empty: give host or a Docker network's name")
	}
	if h := c.RuntimeAPIHost; h != "" && !hostName.MatchString(strings.ToLower(h)) {
		if _, err := netip.ParseAddr(h); err != nil {
			return fmt.Errorf("--runtime-api-host %q is not a host name or IP address", h)
		}
	}
	if _, err := c.allowedHosts(); err != nil {
		return err
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return err
	}
	return nil
}

// hostName is a DNS name (underscores allowed, as container names have
// them) or an IPv4 address.
var hostName = regexp.MustCompile(`^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$`)

// allowedHosts parses --allowed-hosts: host names or IP addresses, without
// scheme or port, separated by commas.
func (c serveConfig) allowedHosts() ([]string, error) {
	var hosts []string
	for _, h := range strings.Split(c.AllowedHosts, ",") {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "" {
			continue
		}
		if _, err := netip.ParseAddr(strings.Trim(h, "[]")); err != nil && !hostName.MatchString(h) {
			return nil, fmt.Errorf("--allowed-hosts: %q is not a host name or IP address (give names without scheme or port, separated by commas)", h)
		}
		hosts = append(hosts, h)
	}
	return hosts, nil
}

// flagSet declares serve's flags; each takes its default from a FURL_*
// environment variable when that is set.
func flagSet(cfg *serveConfig, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("furl serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	str := func(p *string, name, env, def, help string) {
		if v, ok := os.LookupEnv(env); ok {
			def = v
		}
		fs.StringVar(p, name, def, help+" (env "+env+")")
	}
	str(&cfg.Listen, "listen", "FURL_LISTEN", "127.0.0.1:4580", "address to serve the Lambda API and function URLs on")
	str(&cfg.ListenTLS, "listen-tls", "FURL_LISTEN_TLS", "127.0.0.1:4443",
		"address to serve the Lambda API and function URLs on over HTTPS (HTTP/2 and HTTP/1.1), with certificates from furl's local CA (see furl trust); empty for none")
	str(&cfg.DataDir, "data-dir", "FURL_DATA_DIR", defaultDataDir(), "directory holding furl's state and code")
	str(&cfg.Region, "region", "FURL_REGION", "us-east-1", "AWS region furl pretends to be")
	str(&cfg.AccountID, "account-id", "FURL_ACCOUNT_ID", "000000000000", "AWS account id furl pretends to be")
	str(&cfg.LogLevel, "log-level", "FURL_LOG_LEVEL", "info", "log level: debug, info, warn or error")
	str(&cfg.URLPermissions, "url-permissions", "FURL_URL_PERMISSIONS", gateway.PermissionsAWS,
		"what a NONE function URL's resource policy must allow: aws (InvokeFunctionUrl and InvokeFunction, as AWS since October 2025), legacy (InvokeFunctionUrl only) or open (nothing)")
	str(&cfg.StreamBandwidth, "stream-bandwidth", "FURL_STREAM_BANDWIDTH", gateway.StreamUnshaped,
		"bandwidth of streamed responses: unshaped (as fast as the function writes) or aws (the first 6 MB at once, then 2 MB/s, as AWS)")
	maxStream := int64(runtimeapi.DefaultMaxStreamedResponse)
	if v, ok := os.LookupEnv("FURL_STREAM_MAX_BYTES"); ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			maxStream = n
		} else {
			cfg.envError = fmt.Errorf("FURL_STREAM_MAX_BYTES=%q is not a number", v)
		}
	}
	fs.Int64Var(&cfg.StreamMaxBytes, "stream-max-bytes", maxStream, "the largest streamed response; past it the stream ends with Function.ResponseSizeTooLarge (env FURL_STREAM_MAX_BYTES)")
	str(&cfg.IAMConfig, "iam-config", "FURL_IAM_CONFIG", "",
		"a JSON file of identities whose SigV4 signatures furl accepts besides the root's test/test (see README)")
	verify := false
	if v, ok := os.LookupEnv("FURL_VERIFY_API_SIGNATURES"); ok {
		if b, err := strconv.ParseBool(v); err == nil {
			verify = b
		} else {
			cfg.envError = fmt.Errorf("FURL_VERIFY_API_SIGNATURES=%q is not true or false", v)
		}
	}
	fs.BoolVar(&cfg.VerifyAPI, "verify-api-signatures", verify, "refuse Lambda API requests not signed (SigV4) by a known identity, and authorize each with the caller's and the function's policies (env FURL_VERIFY_API_SIGNATURES)")
	str(&cfg.AllowedHosts, "allowed-hosts", "FURL_ALLOWED_HOSTS", "",
		"names, separated by commas, by which clients may reach the Lambda API besides loopback addresses, localhost and the --listen host; function URL hosts may end in them too (see README, Security model)")
	maxConns := 0
	if v, ok := os.LookupEnv("FURL_MAX_CONNECTIONS"); ok {
		if n, err := strconv.Atoi(v); err == nil {
			maxConns = n
		} else {
			cfg.envError = fmt.Errorf("FURL_MAX_CONNECTIONS=%q is not a number", v)
		}
	}
	fs.IntVar(&cfg.MaxConnections, "max-connections", maxConns,
		"the most connections held open; past it the longest idle ones are closed (0: half the open-file limit, at most 10000) (env FURL_MAX_CONNECTIONS)")
	concurrency := urlconfig.DefaultAccountConcurrency
	if v, ok := os.LookupEnv("FURL_ACCOUNT_CONCURRENCY"); ok {
		if n, err := strconv.Atoi(v); err == nil {
			concurrency = n
		} else {
			cfg.envError = fmt.Errorf("FURL_ACCOUNT_CONCURRENCY=%q is not a number", v)
		}
	}
	fs.IntVar(&cfg.AccountConcurrency, "account-concurrency", concurrency, "the account's concurrent-execution limit (env FURL_ACCOUNT_CONCURRENCY)")
	idle := 10 * time.Minute
	if v, ok := os.LookupEnv("FURL_IDLE_TIMEOUT"); ok {
		if d, err := time.ParseDuration(v); err == nil {
			idle = d
		} else {
			cfg.envError = fmt.Errorf("FURL_IDLE_TIMEOUT=%q is not a duration (like 10m or 30s)", v)
		}
	}
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", idle, "how long an unused execution environment lives (env FURL_IDLE_TIMEOUT)")
	envMemory := defaultEnvMemoryMB()
	if v, ok := os.LookupEnv("FURL_MAX_ENV_MEMORY"); ok {
		if n, err := strconv.Atoi(v); err == nil {
			envMemory = n
		} else {
			cfg.envError = fmt.Errorf("FURL_MAX_ENV_MEMORY=%q is not a number (of MB)", v)
		}
	}
	fs.IntVar(&cfg.MaxEnvMemoryMB, "max-env-memory", envMemory,
		"MB all execution environments may hold together, counting each at its function's MemorySize; past it invocations wait for one (default: half this machine's memory) (env FURL_MAX_ENV_MEMORY)")
	fs.Int64Var(&cfg.EventQueueBytes, "event-queue-max-bytes", envNumber(cfg, "FURL_EVENT_QUEUE_MAX_BYTES", int64(urlconfig.DefaultEventQueueMaxBytes), parseInt64),
		"the most payload bytes queued Event invocations may hold; past it Invoke answers 429 (env FURL_EVENT_QUEUE_MAX_BYTES)")
	fs.IntVar(&cfg.EventQueueEvents, "event-queue-max-events", envNumber(cfg, "FURL_EVENT_QUEUE_MAX_EVENTS", urlconfig.DefaultEventQueueMaxEvents, strconv.Atoi),
		"the most Event invocations the queue may hold; past it Invoke answers 429 (env FURL_EVENT_QUEUE_MAX_EVENTS)")
	fs.IntVar(&cfg.EventWorkers, "event-workers", envNumber(cfg, "FURL_EVENT_WORKERS", 10, strconv.Atoi),
		"how many queued Event invocations run at once (env FURL_EVENT_WORKERS)")
	fs.Float64Var(&cfg.EventTimeScale, "event-time-scale", envNumber(cfg, "FURL_EVENT_TIME_SCALE", 1.0, parseFloat),
		"multiplies the asynchronous queue's waits (retry delays, backoff, maximum event age); 1 is AWS's timing, tests use less (env FURL_EVENT_TIME_SCALE)")
	str(&cfg.Sandbox, "sandbox", "FURL_SANDBOX", string(pick.ModeAuto),
		"where functions run: process (host processes), docker (containers on AWS's images) or auto (Docker when an engine answers and the function's image is present or pullable, else a process)")
	cfg.Images = imageMap{}
	if v, ok := os.LookupEnv("FURL_IMAGES"); ok {
		for _, kv := range strings.Split(v, ",") {
			if kv = strings.TrimSpace(kv); kv == "" {
				continue
			}
			if err := cfg.Images.Set(kv); err != nil {
				cfg.envError = fmt.Errorf("FURL_IMAGES: %w", err)
			}
		}
	}
	fs.Var(cfg.Images, "image", "RUNTIME=IMAGE: run the runtime's functions on this image in Docker instead of AWS's base image; repeat for more (env FURL_IMAGES, comma-separated)")
	cfg.RuntimePaths = runtimePathMap{}
	if v, ok := os.LookupEnv("FURL_RUNTIME_PATH"); ok {
		for _, kv := range strings.Split(v, ",") {
			if kv = strings.TrimSpace(kv); kv == "" {
				continue
			}
			if err := cfg.RuntimePaths.Set(kv); err != nil {
				cfg.envError = fmt.Errorf("FURL_RUNTIME_PATH: %w", err)
			}
		}
	}
	fs.Var(cfg.RuntimePaths, "runtime-path", "RUNTIME=PATH: run the runtime's functions on this interpreter in the process sandbox (nodejs24.x=/usr/local/bin/node24); without one, a node24- or python3.12-style interpreter on the PATH, else the host's node or python3, whatever its version; repeat for more (env FURL_RUNTIME_PATH, comma-separated)")
	str(&cfg.DockerNetwork, "docker-network", "FURL_DOCKER_NETWORK", "host",
		"the Docker network containers join: host (the runtime reaches furl on loopback), or a bridge network's name, whose gateway furl's Runtime APIs then listen on")
	str(&cfg.RuntimeAPIHost, "runtime-api-host", "FURL_RUNTIME_API_HOST", "",
		"on a bridge --docker-network, the name containers reach furl by (default host.docker.internal, mapped to the network's gateway)")
	pull := true
	if v, ok := os.LookupEnv("FURL_PULL"); ok {
		if b, err := strconv.ParseBool(v); err == nil {
			pull = b
		} else {
			cfg.envError = fmt.Errorf("FURL_PULL=%q is not true or false", v)
		}
	}
	str(&cfg.Pprof, "pprof", "FURL_PPROF", "",
		"loopback host:port to serve Go's profiles on (/debug/pprof/, for go tool pprof), never the API's port; empty (the default) for none")
	fs.BoolVar(&cfg.Pull, "pull", pull, "pull a function's missing image from its registry (env FURL_PULL)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: furl serve [flags]\n\nStart furl: the Lambda API and function URLs on one port.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	return fs
}

// runtimePathMap is --runtime-path: runtime identifier to interpreter.
type runtimePathMap map[string]string

func (m runtimePathMap) String() string { return imageMap(m).String() }

// Set reads one RUNTIME=PATH, for a nodejs or python runtime.
func (m runtimePathMap) Set(v string) error {
	rt, path, ok := strings.Cut(v, "=")
	rt, path = strings.TrimSpace(rt), strings.TrimSpace(path)
	if !ok || !runtimeID.MatchString(rt) || path == "" {
		return fmt.Errorf("%q is not RUNTIME=PATH (like nodejs24.x=/usr/local/bin/node24)", v)
	}
	if !strings.HasPrefix(rt, "nodejs") && !strings.HasPrefix(rt, "python3") {
		return fmt.Errorf("%q: the process sandbox runs nodejs and python runtimes on an interpreter, not %s", v, rt)
	}
	m[rt] = path
	return nil
}

// envNumber is a flag's default from a FURL_* variable, or def when it is
// unset. A value that does not parse is kept for Validate to report.
func envNumber[T any](cfg *serveConfig, env string, def T, parse func(string) (T, error)) T {
	v, ok := os.LookupEnv(env)
	if !ok {
		return def
	}
	n, err := parse(v)
	if err != nil {
		cfg.envError = fmt.Errorf("%s=%q is not a number", env, v)
		return def
	}
	return n
}

func parseInt64(s string) (int64, error)   { return strconv.ParseInt(s, 10, 64) }
func parseFloat(s string) (float64, error) { return strconv.ParseFloat(s, 64) }

func serve(args []string, stdout, stderr io.Writer) int {
	var cfg serveConfig
	fs := flagSet(&cfg, stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "furl serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(stderr, "furl serve:", err)
		return 2
	}
	identities := authz.NewIdentities(cfg.AccountID)
	if cfg.IAMConfig != "" {
		var err error
		if identities, err = authz.LoadIdentities(cfg.IAMConfig, cfg.AccountID); err != nil {
			fmt.Fprintln(stderr, "furl serve: --iam-config:", err)
			return 2
		}
	}
	level, _ := parseLevel(cfg.LogLevel)
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := runServer(ctx, stop, cfg, identities, log); err != nil {
		log.Error("furl stopped", "err", err)
		return 1
	}
	return 0
}

// serveGCPercent is the collector's target for furl serve unless GOGC is set.
// The gateway's live heap is small (3–4 MB) while a warm request allocates
// 12–15 KB, so at the default of 100 the collector runs about 25 times a second
// under load and its assists land on request goroutines; at 400 the heap
// settles near 20 MB and buffered Invoke at concurrency 8 gains 2–3 %.
const serveGCPercent = 400

// runServer serves until ctx is done, then shuts down gracefully.
func runServer(ctx context.Context, stop func(), cfg serveConfig, identities *authz.Identities, log *slog.Logger) error {
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	defer ln.Close()
	functionURL := urlconfig.DefaultFunctionURL(cfg.Region, ln.Addr().(*net.TCPAddr).Port)
	var lnTLS net.Listener
	if cfg.ListenTLS != "" {
		if lnTLS, err = net.Listen("tcp", cfg.ListenTLS); err != nil {
			return fmt.Errorf("listen on %s (--listen-tls; give it an empty value for no HTTPS): %w", cfg.ListenTLS, err)
		}
		defer lnTLS.Close()
		// AWS's URLs are https: so are those furl reports when it can.
		functionURL = urlconfig.FunctionURLAt("https", cfg.Region, lnTLS.Addr().(*net.TCPAddr).Port)
	}

	if cfg.Pprof != "" {
		stopPprof, err := startPprof(cfg.Pprof, log)
		if err != nil {
			return err
		}
		defer stopPprof()
	}

	sandbox, images, closeSandbox, err := newSandbox(ctx, cfg, log)
	if err != nil {
		return err
	}
	// Deferred first, run last: containers go after the environments.
	defer closeSandbox()

	store, err := urlconfig.Open(ctx, urlconfig.Options{
		Images:              images,
		Dir:                 cfg.DataDir,
		Account:             urlconfig.Account{ID: cfg.AccountID, Region: cfg.Region},
		AccountConcurrency:  cfg.AccountConcurrency,
		Logger:              log,
		FunctionURL:         functionURL,
		EventQueueMaxBytes:  cfg.EventQueueBytes,
		EventQueueMaxEvents: cfg.EventQueueEvents,
	})
	if err != nil {
		return err
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.Error("closing the store failed", "err", err)
		}
	}()

	// What functions do is heard once and told to the metrics and to the
	// feed that `furl logs` and the dashboard read.
	lambdaMetrics := metrics.New()
	recent := feed.New(0, 0)
	defer recent.Close()
	observe := func(ev runtimeapi.Event) {
		lambdaMetrics.Observe(ev)
		recent.Publish(ev)
	}

	runtimes, err := runtimeapi.New(runtimeapi.Config{
		DataDir:             cfg.DataDir,
		Sandbox:             sandbox,
		IdleTimeout:         cfg.IdleTimeout,
		MaxEnvironments:     cfg.AccountConcurrency,
		MaxStreamedResponse: cfg.StreamMaxBytes,
		MaxMemoryMB:         cfg.MaxEnvMemoryMB,
		CodeReferenced: func(hash string) bool {
			_, ok := store.CodePath(hash)
			return ok
		},
		Logger:         log,
		Endpoint:       "http://" + ln.Addr().String(),
		FunctionOutput: os.Stdout,
		Observe:        observe,
	})
	if err != nil {
		return err
	}
	// The environments are closed once, by the shutdown below or on an
	// early return: queued events must see their end before the store
	// closes.
	closeRuntimes := sync.OnceFunc(func() { runtimes.Close() })
	defer closeRuntimes()

	// The --listen host is furl's own name too; Validate checked the rest.
	allowedHosts, _ := cfg.allowedHosts()
	for _, l := range []string{cfg.Listen, cfg.ListenTLS} {
		if host, _, err := net.SplitHostPort(l); err == nil && host != "" && !slices.Contains(allowedHosts, host) {
			allowedHosts = append(allowedHosts, host)
		}
	}
	maxConns := cfg.MaxConnections
	if maxConns == 0 {
		maxConns = connlimit.DefaultMax(connlimit.OpenFileLimit())
	}
	conns := connlimit.New(ln, maxConns, log)

	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	// The dashboard needs the gateway (its send form reaches function
	// URLs through it) and the gateway routes to the dashboard: the
	// handler is filled in once both exist.
	dash := &lateHandler{}
	gw := gateway.New(gateway.Config{Store: store, Logger: log, Version: version(), Invoker: runtimes,
		URLPermissions: cfg.URLPermissions, APIEndpoint: "http://" + ln.Addr().String(),
		StreamBandwidth: cfg.StreamBandwidth, Identities: identities, VerifyAPISignatures: cfg.VerifyAPI,
		SpoolDir: cfg.DataDir, AllowedHosts: allowedHosts, Dashboard: dash,
		Observe: observe, Feed: recent, Metrics: lambdaMetrics.Handler(), RuntimeAdvice: runtimeAdvice(sandbox, cfg.Images),
		Events: gateway.EventDispatch{Workers: cfg.EventWorkers, TimeScale: cfg.EventTimeScale}})
	dashCfg := dashboard.Config{Store: store, URLs: gw.URLHandler(), Feed: recent, Logger: log, Environments: runtimes.Environments}
	if cfg.VerifyAPI {
		dashCfg.Disabled = "furl runs with --verify-api-signatures: every request to it must be signed, and a browser cannot sign. Use the AWS CLI or an SDK, or start furl without that flag to use the dashboard."
	}
	dash.h = dashboard.New(dashCfg)
	log.Info("dashboard", "url", "http://"+net.JoinHostPort(dashboard.Host, portOf(ln.Addr().String()))+"/_furl/")
	limits := connLimits{readHeader: readHeaderTimeout, idle: idleConnTimeout, maxHeaderBytes: maxHeaderBytes}
	srv := newHTTPServer(gw, &protocols, conns, limits, log)
	servers := []*http.Server{srv}
	var srvTLS *http.Server
	var connsTLS *connlimit.Listener
	tlsAddr := ""
	if lnTLS != nil {
		certs, err := tlsca.New(tlsca.Config{Dir: filepath.Join(cfg.DataDir, "tls"), Allow: gw.ServesName, Names: allowedHosts, Logger: log})
		if err != nil {
			return fmt.Errorf("--listen-tls: %w", err)
		}
		defer certs.Close()
		var tlsProtocols http.Protocols
		tlsProtocols.SetHTTP1(true)
		tlsProtocols.SetHTTP2(true)
		connsTLS = conns.Share(lnTLS)
		srvTLS = newHTTPServer(gw, &tlsProtocols, connsTLS, limits, log)
		srvTLS.TLSConfig = certs.TLSConfig()
		servers = append(servers, srvTLS)
		tlsAddr = lnTLS.Addr().String()
		log.Info("HTTPS uses furl's local CA; trust it once with furl trust, or give its root to a client", "root", certs.CA().RootPath(), "sha256", certs.CA().Fingerprint())
	}
	log.Info("furl serving", "addr", ln.Addr().String(), "tls_addr", tlsAddr, "data_dir", cfg.DataDir, "identities", identities.Len(),
		"region", cfg.Region, "account_id", cfg.AccountID, "max_connections", maxConns, "allowed_hosts", strings.Join(allowedHosts, ","),
		"version", version())
	if urls, err := store.AllURLs(ctx); err != nil {
		log.Warn("listing function URLs failed", "err", err)
	} else {
		for _, u := range urls {
			log.Info("function URL", "url", u.URL, "function", u.FunctionName, "qualifier", u.Qualifier, "auth_type", u.AuthType, "invoke_mode", u.InvokeMode)
		}
	}

	events := gw.Dispatcher()
	events.Start()
	served := make(chan error, 2)
	go func() { served <- srv.Serve(conns) }()
	if srvTLS != nil {
		go func() { served <- srvTLS.ServeTLS(connsTLS, "", "") }()
	}
	select {
	case err := <-served:
		for _, s := range servers {
			s.Close()
		}
		expired, cancel := context.WithCancel(context.Background())
		cancel()
		events.Shutdown(expired)
		endEvents(events, closeRuntimes, store, log)
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// A second SIGINT or SIGTERM ends the wait for in-flight calls.
	again := make(chan os.Signal, 1)
	signal.Notify(again, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(again)
	stop()
	log.Info("shutting down: open streams are cut now, in-flight calls get up to " + shutdownGrace.String() + " (a second Ctrl-C ends them at once)")
	gw.CutStreams()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	go func() {
		select {
		case <-again:
			log.Warn("a second signal: ending in-flight calls now")
			cancel()
		case <-shutdownCtx.Done():
		}
	}()
	// Running events get the same grace as requests, at the same time.
	eventsStopped := make(chan struct{})
	go func() {
		defer close(eventsStopped)
		events.Shutdown(shutdownCtx)
	}()
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Go(func() {
			if err := s.Shutdown(shutdownCtx); err != nil {
				log.Warn("in-flight requests did not finish in time; closing them", "err", err)
				s.Close()
			}
		})
	}
	wg.Wait()
	<-eventsStopped
	endEvents(events, closeRuntimes, store, log)
	return nil
}

// newHTTPServer is one of furl's listeners' servers: the gateway (h) with
// bounds on how long and how much a client may take.
func newHTTPServer(h http.Handler, protocols *http.Protocols, conns *connlimit.Listener, limits connLimits, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		Protocols:         protocols,
		ReadHeaderTimeout: limits.readHeader,
		IdleTimeout:       limits.idle,
		MaxHeaderBytes:    limits.maxHeaderBytes,
		ConnState:         conns.ConnState,
		ErrorLog:          serverErrorLog(log),
		HTTP2: &http.HTTP2Config{
			// Go's default, said aloud: a browser opens about 100 streams
			// on a connection, and each stream of a function URL holds an
			// invocation, which the concurrency limits bound anyway.
			MaxConcurrentStreams: 250,
		},
	}
}

// serverErrorLog is where net/http reports what goes wrong with
// connections. A failed TLS handshake is the client's business (a name
// furl does not serve, a root it does not trust, a port scan) and would
// let anyone fill the log: it goes to debug; the rest are warnings.
func serverErrorLog(log *slog.Logger) *stdlog.Logger {
	return stdlog.New(writerFunc(func(p []byte) (int, error) {
		msg := strings.TrimSpace(string(p))
		level := slog.LevelWarn
		if strings.Contains(msg, "TLS handshake error") {
			level = slog.LevelDebug
		}
		log.Log(context.Background(), level, msg)
		return len(p), nil
	}), "", 0)
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// endEvents ends a stopped asynchronous queue: closing the environments
// interrupts the events still running, which stay queued, and the log says
// how many events the next start will run.
func endEvents(events *gateway.Dispatcher, closeRuntimes func(), store *urlconfig.Store, log *slog.Logger) {
	closeRuntimes()
	events.Wait()
	n, size := store.Events().Len()
	log.Info("asynchronous invocations remain queued for the next start", "count", n, "bytes", size)
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return 0, fmt.Errorf("--log-level %q is not one of debug, info, warn, error", s)
	}
	return l, nil
}

// defaultDataDir is the platform's per-user data directory plus "furl":
// $XDG_DATA_HOME or ~/.local/share on Linux and BSDs, ~/Library/Application
// Support on macOS, %LocalAppData% on Windows.
func defaultDataDir() string {
	home, _ := os.UserHomeDir()
	var base string
	switch runtime.GOOS {
	case "windows":
		base = os.Getenv("LocalAppData")
	case "darwin", "ios":
		if home != "" {
			base = filepath.Join(home, "Library", "Application Support")
		}
	default:
		base = os.Getenv("XDG_DATA_HOME")
		if !filepath.IsAbs(base) && home != "" {
			base = filepath.Join(home, ".local", "share")
		}
	}
	if base == "" {
		return ""
	}
	return filepath.Join(base, "furl")
}

// defaultEnvMemoryMB is half of this machine's memory, in MB, or 4096
// where furl cannot tell how much there is.
func defaultEnvMemoryMB() int {
	if total := hostMemoryMB(); total > 0 {
		return max(total/2, 128)
	}
	return 4096
}

// hostMemoryMB is MemTotal from /proc/meminfo, in MB, or 0.
func hostMemoryMB() int {
	raw, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				kb, _ := strconv.Atoi(f[0])
				return kb / 1024
			}
		}
	}
	return 0
}

// version is furl's module version, or "dev" for a build from a work tree.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// lateHandler is a handler set after the server that routes to it is
// built, before that server serves anything.
type lateHandler struct{ h http.Handler }

func (l *lateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) { l.h.ServeHTTP(w, r) }

// portOf is the port of a host:port address.
func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}
