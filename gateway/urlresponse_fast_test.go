package gateway

import (
	"encoding/json"
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
