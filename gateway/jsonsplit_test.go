package gateway

import (
	"bytes"
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/furl-dev/furl/urlconfig"
)

// memSink is a blob sink in memory, for tests.
type memSink struct{ bytes.Buffer }

func (m *memSink) Reset() error {
	m.Buffer.Reset()
	return nil
}

// splitInto runs a splitter over doc, fed in chunks of the given size, and
// decodes into v. It returns the blob's bytes when the member's last value
// was a string.
func splitInto(t testing.TB, doc []byte, chunk int, v any, path ...string) ([]byte, *blobSplitter, error) {
	t.Helper()
	var sink *memSink
	split := newBlobSplitter(path, len(doc)+1, func() (blobSink, error) {
		if sink != nil {
			t.Fatal("the sink was opened twice")
		}
		sink = &memSink{}
		return sink, nil
	})
	for rest := doc; len(rest) > 0; {
		n := min(chunk, len(rest))
		if _, err := split.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	used, err := split.decode(v)
	if !used {
		return nil, split, err
	}
	return sink.Bytes(), split, err
}

// checkSplit asserts that the splitter decodes doc into a fresh value of
// v's type exactly as encoding/json decodes the whole body: the same
// error, word for word and offset for offset, or the same value, the blob
// member included.
func checkSplit(t *testing.T, doc []byte, chunk int, v any, blob func(any) *[]byte, path ...string) {
	t.Helper()
	want := reflect.New(reflect.TypeOf(v).Elem()).Interface()
	wantErr := unmarshalBody(doc, want)
	got := reflect.New(reflect.TypeOf(v).Elem()).Interface()
	zip, split, gotErr := splitInto(t, doc, chunk, got, path...)
	if (wantErr == nil) != (gotErr == nil) || wantErr != nil && describeJSONError(wantErr) != describeJSONError(gotErr) {
		t.Fatalf("document %q (read %d bytes at a time):\n  encoding/json: %v\n  splitter:      %v", doc, chunk, describe(wantErr), describe(gotErr))
	}
	if wantErr != nil {
		return
	}
	// As the handlers do: the blob replaces the placeholder encoding/json
	// left, unless a later value of the member took its place.
	if p := blob(got); zip != nil && p != nil && *p != nil {
		if len(*p) != 0 {
			t.Fatalf("document %q: the placeholder is %q, not empty", doc, *p)
		}
		*p = zip
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("document %q (read %d bytes at a time):\n  encoding/json: %+v\n  splitter:      %+v", doc, chunk, want, got)
	}
	if zip != nil && len(split.kept) > len(doc)-len(zip)+2 {
		t.Fatalf("document %q: the splitter kept %d bytes, more than the document without its blob", doc, len(split.kept))
	}
}

func describe(err error) string {
	if err == nil {
		return "<nil>"
	}
	return describeJSONError(err)
}

func createBlob(v any) *[]byte {
	in := v.(*urlconfig.CreateFunctionInput)
	if in.Code == nil {
		return nil
	}
	return &in.Code.ZipFile
}

func updateBlob(v any) *[]byte { return &v.(*urlconfig.UpdateFunctionCodeInput).ZipFile }

var splitSeeds = []string{
	`{"FunctionName":"f","Runtime":"nodejs22.x","Code":{"ZipFile":"UEsDBBQAAAAIAA=="},"Timeout":3}`,
	`{"ZipFile":"UEsDBBQAAAAIAA==","Publish":true}`,
	// JSON escapes and line breaks inside the base64.
	`{"Code":{"ZipFile":"UEs\/DB\u0051A\nAAA\r\nIAA=="},"ZipFile":"QUJD\u002F"}`,
	`{"ZipFile":"QU\u004aD\n\n","Code":{"ZipFile":"\u0051UJD"}}`,
	// Bad base64: a bad byte, short padding, trailing bytes, a cut quantum.
	`{"Code":{"ZipFile":"QUJD%"}}`, `{"ZipFile":"QQ="}`, `{"ZipFile":"QQ=\n"}`, `{"ZipFile":"QQ==QQ=="}`,
	`{"ZipFile":"QUJDQ"}`, `{"ZipFile":"QQ\n=x"}`, `{"ZipFile":"Q==="}`, `{"ZipFile":"QUJ=\n\nA"}`,
	`{"ZipFile":"QUJD\u00e9"}`, `{"ZipFile":"QUJDé"}`, `{"ZipFile":"QU\ud83d\ude00"}`, `{"ZipFile":"\"QQ=="}`,
	// The first error in document order wins; a syntax error wins over all.
	`{"Timeout":"3","ZipFile":"%%%"}`, `{"ZipFile":"%%%","Timeout":"3"}`, `{"ZipFile":"%%%","ZipFile":"QQ==","Timeout":[}`,
	`{"Code":{"ZipFile":"QQ=="},"Code":{"ZipFile":"!!"},"MemorySize":"x"}`,
	// Repeated members: the last one counts, and objects merge.
	`{"ZipFile":"QUJD","ZipFile":"REVG"}`, `{"ZipFile":"QUJD","ZipFile":null}`, `{"ZipFile":null,"ZipFile":"QUJD"}`,
	`{"Code":{"ZipFile":"QUJD"},"Code":{"S3Bucket":"b"}}`, `{"Code":{"ZipFile":"QUJD"},"Code":null,"Code":{}}`,
	`{"ZipFile":"QUJD","ZipFile":[65,66]}`, `{"ZipFile":[65,66],"ZipFile":"QUJD"}`,
	// Names match as encoding/json matches them.
	`{"code":{"zipfile":"QUJD"}}`, `{"CODE":{"ZIPFILE":"QUJD"}}`, `{"\u0043ode":{"Zip\u0046ile":"QUJD"}}`, `{"Code ":{"ZipFile":"QUJD"}}`,
	`{"Other":{"ZipFile":"%%"},"Code":[{"ZipFile":"%%"}],"ZipFiles":"%%"}`,
	// Wrong member types.
	`{"Code":"QUJD"}`, `{"Code":{"ZipFile":12}}`, `{"ZipFile":{"a":1}}`, `{"ZipFile":true}`, `{"ZipFile":[256]}`, `[{"ZipFile":"QQ=="}]`, `"QUJD"`, `12`,
	// Syntax errors inside and around the blob.
	`{"ZipFile":"QU` + "\x01" + `JD"}`, `{"ZipFile":"QU\x"}`, `{"ZipFile":"QU\u12G4"}`, `{"ZipFile":"QUJD`, `{"ZipFile":"QUJD\`, `{"ZipFile":"QUJD\u00`,
	`{"ZipFile":"QUJD"`, `{"ZipFile":"QUJD",}`, `{"ZipFile":"QUJD"}x`, `{"ZipFile" "QUJD"}`, `{"Code":{"ZipFile":"QUJD"]}`,
	// Numbers and literals.
	`{"Timeout":-0.5e+3,"MemorySize":1E2,"Publish":true,"Code":null}`, `{"Timeout":01}`, `{"Timeout":1.}`, `{"Timeout":-}`,
	`{"Timeout":1e}`, `{"Publish":tru}`, `{"Publish":nul}`, `123`, `-`, `1 2`,
	// Empty and white-space bodies, as bytes.TrimSpace sees them.
	``, ` `, "\v\f", "\u00a0\u2003", "\xc2", ` {} `, "\u00a0{}",
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
}

func FuzzBlobSplitter(f *testing.F) {
	for _, s := range splitSeeds {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, doc []byte, chunk uint8) {
		n := 1 + int(chunk)
		if chunk == 0 {
			n = len(doc) + 1
		}
		checkSplit(t, doc, n, &urlconfig.CreateFunctionInput{}, createBlob, "Code", "ZipFile")
		checkSplit(t, doc, n, &urlconfig.UpdateFunctionCodeInput{}, updateBlob, "ZipFile")
	})
}

// Seeds read a byte at a time and in pairs too: every state is entered at
// a read boundary.
func TestBlobSplitterAtEveryBoundary(t *testing.T) {
	for _, s := range splitSeeds {
		for _, chunk := range []int{1, 2, 3, 5} {
			checkSplit(t, []byte(s), chunk, &urlconfig.CreateFunctionInput{}, createBlob, "Code", "ZipFile")
			checkSplit(t, []byte(s), chunk, &urlconfig.UpdateFunctionCodeInput{}, updateBlob, "ZipFile")
		}
	}
}

// A large blob goes to the sink and is not kept; the rest of the document
// is kept only up to its bound.
func TestBlobSplitterKeepsOnlyTheRest(t *testing.T) {
	zip := bytes.Repeat([]byte("incompressible? no, but large"), 40000)
	doc := []byte(`{"FunctionName":"f","Code":{"ZipFile":"` + base64.StdEncoding.EncodeToString(zip) + `"}}`)
	var in urlconfig.CreateFunctionInput
	got, split, err := splitInto(t, doc, 4096, &in, "Code", "ZipFile")
	if err != nil || !bytes.Equal(got, zip) {
		t.Fatalf("blob of %d bytes, %v; want the %d-byte zip", len(got), err, len(zip))
	}
	if want := `{"FunctionName":"f","Code":{"ZipFile":""}}`; string(split.kept) != want {
		t.Fatalf("kept %q, want %q", split.kept, want)
	}

	big := []byte(`{"Description":"` + strings.Repeat("d", 100) + `","Code":{"ZipFile":"QUJD"}}`)
	small := newBlobSplitter([]string{"Code", "ZipFile"}, 64, func() (blobSink, error) { return &memSink{}, nil })
	small.Write(big)
	if _, err := small.decode(&in); !errors.Is(err, errKeptTooLarge) || small.kept != nil {
		t.Fatalf("a document over the bound: %v, kept %d bytes", err, len(small.kept))
	}
}

func FuzzBase64Stream(f *testing.F) {
	for _, s := range []string{"", "QUJD", "QUJDRA==", "QUJDRUY=", "QQ", "QQ=", "QQ==\n", "QQ==\nQQ==", "Q", "QU\nJ\rD", "=", "QQ=a", "QUJ=Q",
		"Q===", "QQ\n\n=\n=\n", "QUJD\xff", "QUJDQUJDQUJDQUJD%QUJD"} {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, text []byte, chunk uint8) {
		want := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
		n, wantErr := base64.StdEncoding.Decode(want, text)
		want = want[:n]
		var got bytes.Buffer
		d := newBase64Stream(&got)
		size := 1 + int(chunk)
		for rest := text; len(rest) > 0; {
			k := min(size, len(rest))
			d.Write(rest[:k])
			rest = rest[k:]
		}
		gotErr, _ := d.close()
		if !reflect.DeepEqual(gotErr, wantErr) {
			t.Fatalf("%q: error %v, want %v", text, gotErr, wantErr)
		}
		if wantErr == nil && !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("%q: decoded %q, want %q", text, got.Bytes(), want)
		}
	})
}

// BenchmarkBlobSplitter measures the splitter on a code request: almost
// all of it base64 text, read in the gateway's chunks.
func BenchmarkBlobSplitter(b *testing.B) {
	zip := make([]byte, 8<<20)
	for i := range zip {
		zip[i] = byte(i * 7919 >> 3)
	}
	doc := []byte(`{"FunctionName":"f","Code":{"ZipFile":"` + base64.StdEncoding.EncodeToString(zip) + `"}}`)
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		split := newBlobSplitter([]string{"Code", "ZipFile"}, maxOtherRequestBytes, func() (blobSink, error) { return discardSink{}, nil })
		for rest := doc; len(rest) > 0; {
			n := min(uploadChunk, len(rest))
			split.Write(rest[:n])
			rest = rest[n:]
		}
		var in urlconfig.CreateFunctionInput
		if used, err := split.decode(&in); !used || err != nil {
			b.Fatal(used, err)
		}
	}
}

type discardSink struct{}

func (discardSink) Write(p []byte) (int, error) { return len(p), nil }
func (discardSink) Reset() error                { return nil }
