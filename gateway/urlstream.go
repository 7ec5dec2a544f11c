package gateway

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	"github.com/furl-dev/furl/runtimeapi"
	"github.com/furl-dev/furl/stream"
)

// serveStream answers a RESPONSE_STREAM URL request from a streaming
// invocation: the prelude (or the runtime's content type) makes the head,
// then every chunk the function writes is passed on and flushed as it
// comes. A failure before the first byte is a 502; after it, the response
// is cut (the client sees a broken stream, never a clean end). A client
// that goes away stops the copy, not the function: the caller's
// invocation owns the body and closes it then.
func (s *Server) serveStream(w http.ResponseWriter, r *http.Request, res streamResult, log *slog.Logger) {
	rb := res.Body()
	var body io.Reader = rb
	status := http.StatusOK
	header := http.Header{}
	var cookies []string
	var first []byte

	if isHTTPIntegration(res.ContentType()) {
		prelude, rest, err := stream.ReadPrelude(rb)
		if err != nil {
			if fe := waitIfEnded(res, err); fe != nil {
				log.Info("the function of a streaming URL failed before its prelude", "error_type", fe.Type)
			} else {
				log.Info("a streaming URL's function sent no usable prelude", "err", err)
			}
			write502(w)
			return
		}
		if len(prelude.StatusCode) > 0 && string(prelude.StatusCode) != "null" {
			status, err = statusCode(prelude.StatusCode)
		}
		if err == nil {
			header, err = resultHeaders(prelude.Headers, true)
		}
		if err != nil {
			log.Info("a streaming URL's function sent an unusable prelude", "err", err)
			write502(w)
			return
		}
		cookies, first = prelude.Cookies, rest
		if strings.EqualFold(header.Get("Content-Encoding"), "gzip") {
			// Lambda decompresses a gzip stream and drops the header.
			header.Del("Content-Encoding")
			body = &lazyGzip{r: io.MultiReader(bytes.NewReader(first), rb)}
			first = nil
		}
	} else {
		// Wait for the first byte: until it comes, a failure is still a 502.
		buf := make([]byte, 32<<10)
		n, err := rb.Read(buf)
		first = buf[:n]
		if n == 0 && err != nil {
			if fe := waitIfEnded(res, err); fe != nil {
				log.Info("the function of a streaming URL failed before its first byte", "error_type", fe.Type)
				write502(w)
				return
			}
		}
		header.Set("Content-Type", res.ContentType())
	}
	if header.Get("Content-Type") == "" {
		header.Set("Content-Type", "application/octet-stream")
	}

	rc := http.NewResponseController(w)
	out := io.Writer(w)
	if s.streamShaping {
		out = stream.NewAWSShaper(r.Context(), w)
	}
	h := w.Header()
	for k, v := range header {
		h[k] = append(h[k], v...) // added to the CORS headers, as Lambda does
	}
	for _, c := range cookies {
		h.Add("Set-Cookie", c)
	}
	w.WriteHeader(status)
	// The head goes out now, with the first bytes when they came with the
	// prelude: one write to the client, not two.
	if len(first) > 0 {
		if _, err := out.Write(first); err != nil {
			return // the client is gone
		}
	}
	if err := rc.Flush(); err != nil {
		return
	}
	_, err := stream.Relay(out, rc.Flush, body)
	if errors.Is(err, stream.ErrClientGone) || r.Context().Err() != nil {
		log.Info("the client of a streaming URL went away; the function runs on")
		return
	}
	if err != nil && s.shutdown().Err() != nil {
		log.Info("furl is shutting down: the streaming URL's response is cut")
		markCut(r.Context(), "furl shut down")
		panic(http.ErrAbortHandler)
	}
	if err != nil {
		log.Info("a streaming URL's response could not be read", "err", err)
		markCut(r.Context(), "the function's stream could not be read")
		panic(http.ErrAbortHandler)
	}
	if fe := res.Wait(); fe != nil {
		log.Info("the function of a streaming URL failed mid-stream; cutting the response", "error_type", fe.Type)
		markCut(r.Context(), "the function failed mid-stream: "+fe.Type)
		panic(http.ErrAbortHandler)
	}
}

// isHTTPIntegration says a stream starts with a prelude: its media type,
// parameters aside, is the HTTP integration one.
func isHTTPIntegration(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == stream.HTTPIntegrationContentType
}

// streamResult is the invocation serveStream relays: runtimeapi.Result,
// seen through the methods of resultView.
type streamResult interface {
	ContentType() string
	Body() io.ReadCloser
	Wait() *runtimeapi.FunctionError
}

// resultView adapts a runtimeapi.Result to streamResult.
type resultView struct{ *runtimeapi.Result }

func (v resultView) ContentType() string { return v.Result.ContentType }
func (v resultView) Body() io.ReadCloser { return v.Result.Body }

// waitIfEnded returns the invocation's error when the body ended with
// EOF, the invocation being over.
func waitIfEnded(res streamResult, err error) *runtimeapi.FunctionError {
	if errors.Is(err, io.EOF) || errors.Is(err, stream.ErrNoPrelude) {
		return res.Wait()
	}
	return nil
}

// lazyGzip decompresses a stream, reading its gzip header only on the
// first Read.
type lazyGzip struct {
	r  io.Reader
	zr *gzip.Reader
}

func (l *lazyGzip) Read(p []byte) (int, error) {
	if l.zr == nil {
		zr, err := gzip.NewReader(l.r)
		if err != nil {
			return 0, err
		}
		l.zr = zr
	}
	return l.zr.Read(p)
}
