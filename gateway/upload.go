package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/furl-dev/furl/urlconfig"
)

// DefaultMaxConcurrentUploads is how many large code uploads furl reads at
// once unless Config says otherwise.
const DefaultMaxConcurrentUploads = 4

// smallCodeRequest is the size up to which a code request is read without
// waiting for an upload slot: it costs little, and a small function need
// not queue behind large ones.
const smallCodeRequest = 1 << 20

// uploadChunk is how much of a code request is read at a time.
const uploadChunk = 64 << 10

// decodeCode is decode for the operations that carry a zip: the JSON body
// is read as it arrives and the base64 text of the member at path is
// decoded straight into an upload in the code store, hashed on the way,
// while the rest of the document (bounded like any other operation's
// body) is decoded into v. Malformed JSON, members of the wrong type, bad
// base64 and bodies over the operation's limit get exactly decode's
// errors.
//
// The upload is returned when the member's last value was a string; v then
// holds an empty placeholder for it, and the caller must close the upload.
// Large requests first wait for one of the upload slots, for as long as
// their context lives.
func (s *Server) decodeCode(r *http.Request, v any, path ...string) (*urlconfig.CodeUpload, error) {
	body, ok := r.Body.(*opBody)
	if !ok {
		return nil, fmt.Errorf("decode: request body of %T has no operation limit", r.Body)
	}
	if (r.ContentLength < 0 || r.ContentLength > smallCodeRequest) && !holdsUploadSlot(r.Context()) {
		release, err := s.uploadSlot(r.Context())
		if err != nil {
			return nil, newError(urlconfig.ErrInvalidRequest, "Could not read the request body: "+err.Error())
		}
		defer release()
	}
	var upload *urlconfig.CodeUpload
	split := newBlobSplitter(path, maxOtherRequestBytes, func() (blobSink, error) {
		u, err := s.store.NewCodeUpload()
		upload = u
		return u, err
	})
	used, err := readCode(body, split, v)
	if err != nil || !used {
		upload.Close()
		return nil, err
	}
	return upload, nil
}

// readCode feeds a code request's body to the splitter and decodes it.
func readCode(body *opBody, split *blobSplitter, v any) (bool, error) {
	in := io.LimitReader(body, body.limit+1)
	buf := make([]byte, uploadChunk)
	var n int64
	for {
		k, err := in.Read(buf)
		n += int64(k)
		if _, werr := split.Write(buf[:k]); werr != nil {
			return false, werr
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return false, newError(urlconfig.ErrInvalidRequest, "Could not read the request body: "+err.Error())
		}
	}
	if n > body.limit {
		return false, newError(urlconfig.ErrRequestTooLarge, fmt.Sprintf("Request must be smaller than %d bytes for the %s operation", body.limit, body.op))
	}
	used, err := split.decode(v)
	switch {
	case errors.Is(err, errKeptTooLarge):
		return false, newError(urlconfig.ErrRequestTooLarge, fmt.Sprintf("The members other than the code must be smaller than %d bytes for the %s operation", maxOtherRequestBytes, body.op))
	case err != nil:
		return false, newError(urlconfig.ErrInvalidRequest, "Could not parse request body into json: "+describeJSONError(err))
	}
	return used, nil
}

// holdsUploadSlot says the request already holds an upload slot: its
// signed body was spooled.
func holdsUploadSlot(ctx context.Context) bool {
	ri, ok := ctx.Value(requestKey{}).(*requestInfo)
	return ok && ri.holdsUploadSlot
}

// uploadSlot waits for one of the slots that bound concurrent uploads. The
// caller must release it.
func (s *Server) uploadSlot(ctx context.Context) (release func(), err error) {
	select {
	case s.uploads <- struct{}{}:
		return func() { <-s.uploads }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
