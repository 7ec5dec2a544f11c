package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// sdkDoer is what the SDK's HTTPClient option takes.
type sdkDoer interface {
	Do(*http.Request) (*http.Response, error)
}

// streamSafeHTTP sends requests as next does, but hides the request body's
// WriteTo method. It works around a race in the SDK that cuts a response
// stream on a loaded machine, with "decode event: read tcp ...: use of
// closed network connection":
//
//   - smithy-go's ClientHandler.Handle closes the request body as soon as
//     http.Client.Do returns (smithy-go v1.28.8 transport/http/client.go:116),
//     and Do returns once the response headers are in, which for a streamed
//     response is before the invocation ends;
//   - net/http's writeLoop may not have finished the request by then: once it
//     has sent ContentLength bytes, writeBody copies what is left of the body
//     to io.Discard to look for excess bytes (net/http transfer.go:377);
//   - the body is smithy-go's safeWriteToReadCloser, whose WriteTo answers
//     (0, io.EOF) once closed (transport/http/internal/io/safe.go:34), and
//     io.Copy passes a WriterTo's io.EOF on as an error; so writeBody fails,
//     and writeLoop closes the connection (net/http transport.go:2678) under
//     the response the SDK is still reading.
//
// Without WriteTo the same check reads, and the closed body's Read answers
// (0, io.EOF), which io.Copy takes for a clean end.
type streamSafeHTTP struct{ next sdkDoer }

func (s streamSafeHTTP) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		r.Body = struct{ io.ReadCloser }{r.Body}
	}
	return s.next.Do(r)
}

func (f *furl) streamClientWith(next sdkDoer) *lambda.Client {
	return lambda.New(lambda.Options{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint:     aws.String("http://" + f.addr),
		RetryMaxAttempts: 1,
		HTTPClient:       streamSafeHTTP{next},
	})
}

// heldConn holds the transport's writer in the Write that sends a request's
// body, after the bytes have gone, until release is closed: the response
// then arrives while the writer has yet to finish the request.
type heldConn struct {
	net.Conn
	held    chan<- struct{} // gets a value as a Write is held
	release <-chan struct{}
}

func (c heldConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	// The transport sends the headers first, flushed on their own since
	// the SDK's body is no in-memory reader that net/http knows.
	if !isRequestHead(p) {
		select {
		case c.held <- struct{}{}:
		default:
		}
		<-c.release
	}
	return n, err
}

func isRequestHead(p []byte) bool {
	return len(p) >= 5 && string(p[:5]) == "POST "
}

// closeCounter reports the Close calls on the request bodies it sends.
type closeCounter struct {
	next   sdkDoer
	closed chan struct{} // gets a value at each Close while it has room
}

type countedBody struct {
	io.ReadCloser
	c *closeCounter
}

func (b countedBody) Close() error {
	err := b.ReadCloser.Close()
	select {
	case b.c.closed <- struct{}{}:
	default:
	}
	return err
}

func (c *closeCounter) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		// Keep WriteTo where the body has one, as the SDK's does.
		if wt, ok := r.Body.(io.WriterTo); ok {
			r.Body = struct {
				countedBody
				io.WriterTo
			}{countedBody{r.Body, c}, wt}
		} else {
			r.Body = countedBody{r.Body, c}
		}
	}
	return c.next.Do(r)
}

// The SDK's request body is closed twice: by the SDK once Do returns, and
// by the transport's writer once it is done with it. Here the writer is
// held so that the SDK's Close comes first, and the stream must still
// arrive whole.
func TestInvokeWithResponseStreamSDKBodyClosedFirst(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	createStreamFunction(t, f.client(), "reader", "reader", 10)

	held, release := make(chan struct{}, 1), make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	var d net.Dialer
	transport := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return heldConn{Conn: conn, held: held, release: release}, nil
		}
	})
	// Room for both Closes, the SDK's and the transport's.
	counter := &closeCounter{next: transport, closed: make(chan struct{}, 2)}
	c := f.streamClientWith(counter)

	g := newGate(t)
	out, err := c.InvokeWithResponseStream(ctx(t), &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String("reader"),
		Payload: []byte(fmt.Sprintf(`{"tokens":3,"gate":%q}`, g))})
	if err != nil {
		t.Fatalf("InvokeWithResponseStream: %v", err)
	}
	st := out.GetStream()
	defer st.Close()
	// The writer is held after sending the body, which the SDK has
	// closed; the writer has not.
	select {
	case <-held:
	default:
		t.Fatal("the transport's writer was not held: the test no longer sets up the race")
	}
	select {
	case <-counter.closed:
	default:
		t.Fatal("the SDK returned the stream without closing the request body")
	}
	releaseOnce.Do(func() { close(release) })
	// The writer is done with the body, and would have cut the connection
	// by now; only then does the function go past its first token.
	select {
	case <-counter.closed:
	case <-ctx(t).Done():
		t.Fatal("the transport never closed the request body")
	}
	var chunks []string
	var complete *types.InvokeWithResponseStreamCompleteEvent
	for ev := range st.Events() {
		switch v := ev.(type) {
		case *types.InvokeWithResponseStreamResponseEventMemberPayloadChunk:
			chunks = append(chunks, string(v.Value.Payload))
			g.open(t, len(chunks))
		case *types.InvokeWithResponseStreamResponseEventMemberInvokeComplete:
			complete = &v.Value
		default:
			t.Fatalf("unexpected event %T", ev)
		}
	}
	if err := st.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if want := "[data: token 1\n\n data: token 2\n\n data: token 3\n\n]"; fmt.Sprint(chunks) != want {
		t.Errorf("chunks %q", chunks)
	}
	if complete == nil || complete.ErrorCode != nil {
		t.Errorf("InvokeComplete %+v", complete)
	}
}
