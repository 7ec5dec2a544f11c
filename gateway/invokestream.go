package gateway

import (
	"errors"
	"io"
	"net/http"

	"github.com/furl-dev/furl/stream"
)

// invokeWithResponseStream is the InvokeWithResponseStream operation: the
// function's bytes go out as PayloadChunk events as the runtime sends them,
// then one InvokeComplete says how the invocation ended. Failures before
// the stream starts are ordinary API errors; after it, they are the
// InvokeComplete's ErrorCode and ErrorDetails, the status staying 200.
func (s *Server) invokeWithResponseStream(w http.ResponseWriter, r *http.Request) {
	log := loggerFrom(r.Context()).With("op", "InvokeWithResponseStream")
	req, err := s.readInvoke(r, streamInvokeTypes)
	if err != nil {
		writeError(w, log, err)
		return
	}
	if req.invocationType == "DryRun" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	inv := req.invocation(s, r)
	inv.Streaming = true
	iv, err := s.start(r.Context(), req.ver, inv, true)
	if err != nil {
		writeError(w, log, startError(req.ver, err))
		return
	}
	defer iv.end()

	h := w.Header()
	h.Set("Content-Type", stream.EventStreamContentType)
	h.Set("X-Amz-Executed-Version", iv.ExecutedVersion)
	h.Set("X-Amzn-Trace-Id", inv.TraceID)
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if rc.Flush() != nil {
		return
	}
	events := stream.NewEventWriter(w, rc.Flush)
	var out io.Writer = events
	if s.streamShaping {
		out = stream.NewAWSShaper(r.Context(), events)
	}
	if _, err := stream.Relay(out, rc.Flush, iv.Body); err != nil {
		if errors.Is(err, stream.ErrClientGone) || r.Context().Err() != nil {
			log.Info("the client of a response stream went away; the function runs on", "function", req.ver.FunctionName)
		} else if s.shutdown().Err() != nil {
			log.Info("furl is shutting down: the response stream is cut", "function", req.ver.FunctionName)
			markCut(r.Context(), "furl shut down")
			panic(http.ErrAbortHandler)
		} else {
			log.Error("reading a function's response stream failed", "function", req.ver.FunctionName, "err", err)
		}
		return
	}
	var done stream.Complete
	if fe := iv.Wait(); fe != nil {
		done.ErrorCode, done.ErrorDetails = fe.Type, string(fe.Payload)
	}
	if req.logType == "Tail" {
		done.LogResult = iv.tail()
	}
	if err := events.InvokeComplete(done); err != nil {
		log.Info("the client of a response stream went away before its end", "function", req.ver.FunctionName)
	}
}
