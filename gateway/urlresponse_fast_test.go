package gateway

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// jsonString decodes every JSON string as encoding/json does, and takes
// nothing else for one.
func TestJSONStringDecodesAsEncodingJSON(t *testing.T) {
	for _, raw := range []string{
		`""`, `"plain"`, `"with \"quotes\""`, `"tab\tand\nnewline"`, `"\u00e9t\u00e9"`, `"été"`, `"emoji 😀"`,
		"\"bad \xff utf-8\"", `"\ud800 lone surrogate"`, `"a\/b"`, `"back\\slash"`,
		`42`, `4.2e1`, `true`, `null`, `{"a":"b"}`, `["x"]`,
	} {
		got, ok := jsonString([]byte(raw))
		var want string
		isString := raw[0] == '"' && json.Unmarshal([]byte(raw), &want) == nil
		if ok != isString || got != want {
			t.Errorf("jsonString(%q) = %q, %v; encoding/json gives %q, %v", raw, got, ok, want, isString)
		}
	}
}

func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"plain", "q\"uote", "\xff", "é", "\\", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		raw, _ := json.Marshal(s)
		for _, r := range [][]byte{raw, []byte(`"` + s + `"`)} {
			var want string
			if json.Unmarshal(r, &want) != nil {
				continue // not valid JSON: jsonString only sees validated values
			}
			if got, ok := jsonString(r); !ok || got != want {
				t.Fatalf("jsonString(%q) = %q, %v; want %q", r, got, ok, want)
			}
		}
	})
}

// BenchmarkURLResponseFrom maps the answer of the e2e URL function's
// /echo (a structured response whose body is the event as JSON).
func BenchmarkURLResponseFrom(b *testing.B) {
	event, err := buildURLEvent(&urlRequest{Method: "POST", RawPath: "/echo", RawQuery: "x=1", Host: "127.0.0.1:4580",
		Header: map[string][]string{"Content-Type": {"application/json"}, "User-Agent": {"Go-http-client/1.1"}, "Accept-Encoding": {"gzip"}},
		Body:   []byte(`{"order":42}`), SourceIP: "127.0.0.1", Proto: "http", Port: "4580", URLID: "abc", RequestID: "r", TraceID: "Root=1-x"})
	if err != nil {
		b.Fatal(err)
	}
	result, _ := json.Marshal(map[string]any{"statusCode": 200, "headers": map[string]string{"Content-Type": "application/json"}, "body": string(event)})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := urlResponseFrom(result); err != nil {
			b.Fatal(err)
		}
	}
}

// urlResponseTricky are results at the edges of the fast path: escapes,
// surrogates and invalid UTF-8, repeated and escaped names, values of the
// wrong kind, deep nesting and syntax errors.
var urlResponseTricky = []string{
	`{"statusCode":200,"body":"a\"b\\c\/d\b\f\n\r\t\u00e9\u0000\ud83d\ude00 \ud800x \udc00 \ud800\ud800\udc00 \ud800\u0041 \uDBFF\uDFFF"}`,
	"{\"statusCode\":200,\"body\":\"bad \xff\xfe \xed\xa0\x80 \xf0\x9f\x98 ok \xef\xbf\xbd é\"}",
	`{"statusCode":200,"statusCode":404,"body":"a","body":"b"}`,
	`{"statusCode":200,"body":"long first body","body":{"x":1},"body":"b\u00e9"}`, `{"statusCode":200,"body":"a","body":[1]}`,
	`{"statusCode":200,"bo\u0064y":"x"}`,
	`{"statusCod\u0065":200,"body":"x"}`,
	`{"statusCode":200,"headers":{"A":"1","A":"2","a":"3","b":"\u00e9\n"}}`,
	`{"statusCode":200,"headers":{"B":"1","C":"x","B":"2"}}`,
	`{"statusCode":200,"headers":{"A":"1","headers":{}},"headers":{"B":"2"}}`,
	`{"statusCode":200,"headers":{"n":12,"f":-1.5e3,"t":true,"z":false,"x":null}}`,
	`{"statusCode":200,"headers":{"n":1e400}}`,
	`{"statusCode":200,"headers":{"o":{}}}`,
	`{"statusCode":200,"headers":{"l":["a"]}}`,
	`{"statusCode":200,"headers":{"\u0041":"x"}}`,
	"{\"statusCode\":200,\"headers\":{\"\xff\":\"x\"}}",
	"{\"\xff\":1,\"statusCode\":200}",
	`{"statusCode":200,"headers":{"é":"x","Content-Length":"3","Connection":"close","X-Amzn-RequestId":"f","content-type":"text/plain"}}`,
	`{"statusCode":200,"headers":"x"}`,
	`{"statusCode":200,"headers":null,"cookies":null,"body":null,"isBase64Encoded":null}`,
	`{"statusCode":200,"cookies":[]}`,
	`{"statusCode":200,"cookies":["a=1","b=\u00e9"]}`,
	`{"statusCode":200,"cookies":[null]}`,
	`{"statusCode":200,"cookies":[1]}`,
	`{"statusCode":200,"cookies":"a=1"}`,
	`{"statusCode":200,"body":"aGk=","isBase64Encoded":true}`,
	`{"statusCode":200,"body":"aG\nk=","isBase64Encoded":true}`,
	`{"statusCode":200,"body":"!!","isBase64Encoded":true}`,
	`{"statusCode":200,"body":"aGk=","isBase64Encoded":"true"}`,
	`{"statusCode":200,"body":"aGk=","isBase64Encoded":1}`,
	`{"statusCode":200,"body":"aGk=","isBase64Encoded":false}`,
	`{"statusCode":200,"body":"","isBase64Encoded":true}`,
	`{"statusCode":200,"body":{ "a" : [ 1, 2.5e-3, true, null, "\u00e9" ] }}`,
	`{"statusCode":200,"body":42}`,
	`{"statusCode":"200"}`, `{"statusCode":" 418 "}`, `{"statusCode":"2\u0030\u0030"}`, `{"statusCode":200.0}`,
	`{"statusCode":2e2}`, `{"statusCode":1e400}`, `{"statusCode":true}`, `{"statusCode":null}`, `{"statusCode":199}`,
	`{"statusCode":-0}`, `{"statusCode":[200]}`,
	"{\"statusCode\":200,\"body\":" + strings.Repeat("[", 70) + strings.Repeat("]", 70) + "}",
	"{\"statusCode\":200,\"body\":" + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + "}",
	`{"statusCode":200,}`, `{"statusCode":200}x`, `{"statusCode":200}}`, `{"a":01,"statusCode":200}`, `{"a":-,"statusCode":200}`,
	`{"a":1.,"statusCode":200}`, `{"a":1e,"statusCode":200}`, `{"a":1e+,"statusCode":200}`, `{"a":tru,"statusCode":200}`,
	`{"a":nul}`, "{\"a\":\"\x01\",\"statusCode\":200}", `{"a":"\'","statusCode":200}`, `{"a":"\u12G4","statusCode":200}`,
	`{'a':1}`, `{"statusCode":200`, `{"statusCode":200,"body":"x`, `{"statusCode" 200}`, `{"statusCode":200 "body":"x"}`,
	`{"a":[1,],"statusCode":200}`, `{"a":[1 2],"statusCode":200}`, `{"a":{"b"},"statusCode":200}`,
	" \f{ \"statusCode\" :\t200 ,\r\n\"body\" : \"x\" }\v ", "{\"statusCode\":200,\v\"body\":\"x\"}",
	`{ "a" : 1 , "b" : [ ] }`, `{}`, `{"a":"\u00e9"}`,
	`"x\u0000y"`, `"\ud800"`, `"open`, `"a" "b"`, `"a"x`, "\"\xff\"", `""`, `"`,
	`[1, 2]`, `42`, `null`, `true`, ``, `   `, `x`,
}

// The fast path answers as encoding/json does: the same response, or
// the same error, for every result.
func FuzzURLResponseFastPath(f *testing.F) {
	files, _ := filepath.Glob("testdata/urlresponse/*.result")
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	for _, s := range urlResponseTricky {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, result []byte) {
		checkFastURLResponse(t, result)
	})
}

func checkFastURLResponse(t *testing.T, result []byte) {
	t.Helper()
	want, wantErr := decodeURLResponse(bytes.TrimSpace(result))
	got, err := urlResponseFrom(result)
	if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
		t.Fatalf("%q: error %v; encoding/json gives %v", result, err, wantErr)
	}
	if err != nil {
		return
	}
	if got.Status != want.Status || !reflect.DeepEqual(got.Header, want.Header) ||
		!slices.Equal(got.Cookies, want.Cookies) || (got.Cookies == nil) != (want.Cookies == nil) ||
		!bytes.Equal(got.Body, want.Body) {
		t.Fatalf("%q:\ngot  %d %v %q %q\nwant %d %v %q %q", result,
			got.Status, got.Header, got.Cookies, got.Body, want.Status, want.Header, want.Cookies, want.Body)
	}
}

func TestURLResponseFastPathMatchesEncodingJSON(t *testing.T) {
	for _, s := range urlResponseTricky {
		checkFastURLResponse(t, []byte(s))
	}
}

// The fast path takes the results a function usually gives, so the
// reference decoder is only their fallback.
func TestURLResponseFastPathTakesUsualResults(t *testing.T) {
	for _, s := range []string{
		`{"statusCode":200,"headers":{"Content-Type":"application/json","X-N":3},"cookies":["a=1"],"body":"{\"order\":42,\"name\":\"caf\u00e9\"}"}`,
		`{"statusCode":201,"body":"aGk=","isBase64Encoded":true}`,
		`{"statusCode":200,"body":{"a":[1,2]}}`,
		`{"message":"not structured"}`,
		`"a string \"result\""`,
	} {
		if _, ok := fastURLResponse([]byte(s)); !ok {
			t.Errorf("the fast path left %s to encoding/json", s)
		}
	}
}

// unquoteJSON, the fast path's decoder, decodes every JSON string as
// encoding/json does, and takes nothing else for one.
func FuzzUnquoteJSON(f *testing.F) {
	for _, s := range []string{`plain`, `q\"uote`, "\xff\xfe", `\u00e9\ud83d\ude00`, `\ud800x\udc00`, `\ud800\ud800\udc00`,
		`\ud800\u0041`, `\ud800\uzzzz`, `\'`, `\`, `"`, "\x00", "\xed\xa0\x80", `\/\b\f\n\r\t\\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, inner string) {
		var want string
		err := json.Unmarshal([]byte(`"`+inner+`"`), &want)
		got, ok := unquoteJSON([]byte("x"), []byte(inner))
		if ok != (err == nil) || ok && string(got[1:]) != want {
			t.Fatalf("unquoteJSON(%q) = %q, %v; encoding/json gives %q, %v", inner, got, ok, want, err)
		}
	})
}
