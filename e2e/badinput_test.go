package e2e

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// Every kind of bad input gets AWS's error type and status and leaves the
// stored state as it was, with no stray files.
func TestBadInputIsRefusedAndChangesNothing(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	populate(t, c)
	before := snapshot(t, c, true)
	good := nodeZip(t, "ok")

	create := func(mut func(m map[string]any)) []byte {
		m := map[string]any{
			"FunctionName": "newfn", "Runtime": "nodejs20.x", "Role": testRole, "Handler": "index.handler",
			"Code": map[string]any{"ZipFile": good},
		}
		mut(m)
		raw, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	withZip := func(z []byte) []byte {
		return create(func(m map[string]any) { m["Code"] = map[string]any{"ZipFile": z} })
	}
	long := strings.Repeat("a", 65)
	cases := []struct {
		name       string
		method     string
		path       string
		body       []byte
		status     int
		errType    string
		message    string // exact, or a prefix when it ends in "…"
		noUserType bool
	}{
		{"malformed JSON", "POST", "/2015-03-31/functions", []byte(`{"FunctionName": "x",`), 400, "InvalidRequestContentException", "Could not parse request body into json: …", false},
		{"member of the wrong type", "POST", "/2015-03-31/functions", create(func(m map[string]any) { m["Timeout"] = "thirty" }), 400, "InvalidRequestContentException", "Could not parse request body into json: member Timeout must be a number, not a JSON string…", false},
		{"ZipFile not base64", "POST", "/2015-03-31/functions", create(func(m map[string]any) { m["Code"] = map[string]any{"ZipFile": "%%%"} }), 400, "InvalidRequestContentException", "Could not parse request body into json: …", false},
		{"not a zip", "POST", "/2015-03-31/functions", withZip([]byte("definitely not a zip")), 400, "InvalidParameterValueException", "Could not unzip uploaded file. Please check your file, then try to upload again.", false},
		{"zip with a bad checksum", "POST", "/2015-03-31/functions", withZip(corruptZip(t)), 400, "InvalidParameterValueException", "Could not unzip uploaded file. Please check your file, then try to upload again.", false},
		{"zip escaping with ..", "POST", "/2015-03-31/functions", withZip(makeZip(t, map[string]string{"../evil.js": "x"})), 400, "InvalidParameterValueException", "Could not unzip uploaded file. Please check your file, then try to upload again. The entry \"../evil.js\" escapes the function directory.", false},
		{"zip with an absolute path", "POST", "/2015-03-31/functions", withZip(makeZip(t, map[string]string{"/etc/cron.d/x": "x"})), 400, "InvalidParameterValueException", "Could not unzip uploaded file. Please check your file, then try to upload again. The entry \"/etc/cron.d/x\" has an absolute path.", false},
		{"zip with an escaping link", "POST", "/2015-03-31/functions", withZip(symlinkZip(t, "lib/up", "../../etc/passwd")), 400, "InvalidParameterValueException", "Could not unzip uploaded file. Please check your file, then try to upload again. The entry \"lib/up\" is a symbolic link that escapes the function directory.", false},
		{"zip with a directory and a file of one name", "POST", "/2015-03-31/functions", withZip(makeZipModes(t, map[string]zipFile{"x": {[]byte("x"), 0o644}, "x/": {nil, os.ModeDir | 0o755}})), 400, "InvalidParameterValueException",
			"Could not unzip uploaded file. Please check your file, then try to upload again. The entries \"x\" and \"x/\" would be extracted to the same path.", false},
		{"zip with a file under a file", "POST", "/2015-03-31/functions", withZip(makeZipModes(t, map[string]zipFile{"x": {[]byte("x"), 0o644}, "x/y": {[]byte("y"), 0o644}})), 400, "InvalidParameterValueException",
			"Could not unzip uploaded file. Please check your file, then try to upload again. The entry \"x/y\" lies under the file \"x\".", false},
		{"update code with a zip holding a directory and a file of one name", "PUT", "/2015-03-31/functions/alpha/code",
			[]byte(`{"ZipFile":"` + encodeBase64(makeZipModes(t, map[string]zipFile{"lib": {[]byte("x"), 0o644}, "lib/": {nil, os.ModeDir | 0o755}})) + `"}`), 400, "InvalidParameterValueException",
			"Could not unzip uploaded file. Please check your file, then try to upload again. The entries \"lib\" and \"lib/\" would be extracted to the same path.", false},
		{"NUL in an environment value", "POST", "/2015-03-31/functions", create(func(m map[string]any) {
			m["Environment"] = map[string]any{"Variables": map[string]string{"GOOD": "ok", "TOKEN": "abc\x00def"}}
		}), 400, "InvalidParameterValueException", "Lambda was unable to configure your environment variables because the values of these variables contain a NUL character (\\u0000), which no process environment can hold: TOKEN", false},
		{"NUL in the handler", "POST", "/2015-03-31/functions", create(func(m map[string]any) { m["Handler"] = "index\x00.handler" }), 400, "InvalidParameterValueException",
			"The handler must not contain a NUL character (\\u0000): no runtime can be started with it.", false},
		{"update with NUL in an environment value", "PUT", "/2015-03-31/functions/alpha/configuration", []byte(`{"Environment":{"Variables":{"NAME":"al\u0000pha"}}}`), 400, "InvalidParameterValueException",
			"Lambda was unable to configure your environment variables because the values of these variables contain a NUL character (\\u0000), which no process environment can hold: NAME", false},
		{"update with NUL in the handler", "PUT", "/2015-03-31/functions/alpha/configuration", []byte(`{"Handler":"index.handler\u0000"}`), 400, "InvalidParameterValueException",
			"The handler must not contain a NUL character (\\u0000): no runtime can be started with it.", false},
		{"update code with a control character in ZipFile", "PUT", "/2015-03-31/functions/alpha/code", []byte("{\"ZipFile\":\"UEs\x01DBB\"}"), 400, "InvalidRequestContentException",
			"Could not parse request body into json: invalid character '\\x01' in string literal (at byte offset 16)", false},
		{"update code with bad base64 after escapes", "PUT", "/2015-03-31/functions/alpha/code", []byte(`{"Publish":true,"ZipFile":"UEsD\/\u0051%=="}`), 400, "InvalidRequestContentException",
			"Could not parse request body into json: illegal base64 data at input byte 6", false},
		{"update code whose other members are over 6 MB", "PUT", "/2015-03-31/functions/alpha/code",
			[]byte(`{"RevisionId":"` + strings.Repeat("r", 6<<20) + `","ZipFile":"` + encodeBase64(good) + `"}`), 413, "RequestEntityTooLargeException",
			"The members other than the code must be smaller than 6291456 bytes for the UpdateFunctionCode operation", true},
		{"unzipped over 250 MB", "POST", "/2015-03-31/functions", withZip(zipBomb(t, 262144001)), 400, "InvalidParameterValueException", "Unzipped size must be smaller than 262144000 bytes", false},
		{"zip over 50 MB", "POST", "/2015-03-31/functions", withZip(bytes.Repeat([]byte{1}, 52428801)), 413, "RequestEntityTooLargeException", "Zipped size must be smaller than 52428800 bytes", true},
		{"request over AWS's limit", "POST", "/2015-03-31/functions", bytes.Repeat([]byte(" "), 70167212), 413, "RequestEntityTooLargeException", "Request must be smaller than 70167211 bytes for the CreateFunction operation", true},
		{"bad name", "POST", "/2015-03-31/functions", create(func(m map[string]any) { m["FunctionName"] = "bad name!" }), 400, "ValidationException", "1 validation error detected: Value 'bad name!' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?", true},
		{"name over 64", "POST", "/2015-03-31/functions", create(func(m map[string]any) { m["FunctionName"] = long }), 400, "InvalidParameterValueException", "1 validation error detected: Value '" + long + "' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 64", false},
		{"no role, bad timeout", "POST", "/2015-03-31/functions", create(func(m map[string]any) { delete(m, "Role"); m["Timeout"] = 0 }), 400, "ValidationException", "2 validation errors detected: Value null at 'role' failed to satisfy constraint: Member must not be null; Value '0' at 'timeout' failed to satisfy constraint: Member must have value greater than or equal to 1", true},
		{"timeout over 900", "POST", "/2015-03-31/functions", create(func(m map[string]any) { m["Timeout"] = 901 }), 400, "ValidationException", "1 validation error detected: Value '901' at 'timeout' failed to satisfy constraint: Member must have value less than or equal to 900", true},
		{"bad role", "POST", "/2015-03-31/functions", create(func(m map[string]any) { m["Role"] = "r1" }), 400, "ValidationException", "1 validation error detected: Value 'r1' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+", true},
		{"unknown runtime", "POST", "/2015-03-31/functions", create(func(m map[string]any) { m["Runtime"] = "cobol85" }), 400, "InvalidParameterValueException", "Value cobol85 at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: […", false},
		{"deprecated runtime", "POST", "/2015-03-31/functions", create(func(m map[string]any) { m["Runtime"] = "python3.7" }), 400, "InvalidParameterValueException", "The runtime parameter of python3.7 is no longer supported for creating or updating AWS Lambda functions. We recommend you use a supported runtime while creating or updating functions.", false},
		{"reserved variable", "POST", "/2015-03-31/functions", create(func(m map[string]any) {
			m["Environment"] = map[string]any{"Variables": map[string]string{"AWS_REGION": "x"}}
		}), 400, "InvalidParameterValueException", "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: AWS_REGION", false},
		{"variables over 4 KB", "POST", "/2015-03-31/functions", create(func(m map[string]any) {
			m["Environment"] = map[string]any{"Variables": map[string]string{"BIG": strings.Repeat("x", 4090)}}
		}), 400, "InvalidParameterValueException", "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {\"BIG\":\"x…", false},
		{"code from S3", "POST", "/2015-03-31/functions", create(func(m map[string]any) { m["Code"] = map[string]any{"S3Bucket": "bucket", "S3Key": "fn.zip"} }), 400, "InvalidParameterValueException", "furl does not support deploying code from S3 yet (Code.S3Bucket): upload the zip itself with ZipFile.", false},
		{"existing name", "POST", "/2015-03-31/functions", create(func(m map[string]any) { m["FunctionName"] = "alpha" }), 409, "ResourceConflictException", "Function already exist: alpha", false},
		{"update a missing function", "PUT", "/2015-03-31/functions/ghost/code", []byte(`{"ZipFile":"` + encodeBase64(good) + `"}`), 404, "ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:000000000000:function:ghost", false},
		{"update code with a bad zip", "PUT", "/2015-03-31/functions/alpha/code", []byte(`{"ZipFile":"UEsDBAo="}`), 400, "InvalidParameterValueException", "Could not unzip uploaded file. Please check your file, then try to upload again.", false},
		{"function of another region", "GET", "/2015-03-31/functions/arn:aws:lambda:eu-west-1:000000000000:function:alpha", nil, 404, "ResourceNotFoundException", "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')", false},
		{"function of another account", "GET", "/2015-03-31/functions/arn:aws:lambda:us-east-1:111122223333:function:alpha", nil, 403, "AccessDeniedException", "", true},
		{"version written with a leading zero", "DELETE", "/2015-03-31/functions/alpha?Qualifier=01", nil, 204, "", "", false},
		{"alias to a version written with a leading zero", "POST", "/2015-03-31/functions/alpha/aliases", []byte(`{"Name":"zero","FunctionVersion":"01"}`), 404, "ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:000000000000:function:alpha:01", false},
		{"concurrency of the wrong type", "PUT", "/2017-10-31/functions/alpha/concurrency", []byte(`{"ReservedConcurrentExecutions":"many"}`), 400, "InvalidRequestContentException", "Could not parse request body into json: member ReservedConcurrentExecutions must be a number, not a JSON string…", false},
		{"negative concurrency", "PUT", "/2017-10-31/functions/alpha/concurrency", []byte(`{"ReservedConcurrentExecutions":-1}`), 400, "ValidationException", "1 validation error detected: Value '-1' at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 0", true},
		{"URL config without AuthType", "POST", "/2021-10-31/functions/alpha/url?Qualifier=nope", []byte(`{}`), 400, "ValidationException", "1 validation error detected: Value null at 'authType' failed to satisfy constraint: Member must not be null", true},
		{"policy with a bad action", "POST", "/2015-03-31/functions/alpha/policy", []byte(`{"StatementId":"x","Action":"s3:GetObject","Principal":"*"}`), 400, "ValidationException", "1 validation error detected: Value 's3:GetObject' at 'action' failed to satisfy constraint: Member must satisfy regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*])", true},
		{"unsupported operation", "POST", "/2015-03-31/event-source-mappings", []byte(`{}`), 501, "NotImplementedException", "furl does not support the Lambda operation CreateEventSourceMapping yet.", true},
		{"query-selected unsupported operation", "GET", "/2019-09-30/functions/alpha/provisioned-concurrency?List=ALL", nil, 501, "NotImplementedException", "furl does not support the Lambda operation ListProvisionedConcurrencyConfigs yet.", true},
		{"unknown path", "GET", "/2099-01-01/wormholes", nil, 404, "UnknownOperationException", "No Lambda API operation answers GET /2099-01-01/wormholes.", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, raw := f.do(tc.method, tc.path, "application/json", tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, raw)
			}
			if tc.status < 300 {
				return
			}
			if got := resp.Header.Get("X-Amzn-Errortype"); got != tc.errType {
				t.Fatalf("x-amzn-ErrorType %q, want %q: %s", got, tc.errType, raw)
			}
			if resp.Header.Get("X-Amzn-Requestid") == "" {
				t.Error("no x-amzn-RequestId")
			}
			var body map[string]any
			if err := json.Unmarshal(raw, &body); err != nil {
				t.Fatalf("error body is not JSON: %s", raw)
			}
			key := "message"
			if tc.errType == "ResourceNotFoundException" || tc.errType == "AccessDeniedException" {
				key = "Message"
			}
			if tc.errType == "AccessDeniedException" {
				// AWS sends this one with a null message.
				if v, present := body[key]; !present || v != nil || len(body) != 1 {
					t.Fatalf("body %s, want {\"Message\":null}", raw)
				}
				return
			}
			msg, _ := body[key].(string)
			if prefix, ok := strings.CutSuffix(tc.message, "…"); ok {
				if !strings.HasPrefix(msg, prefix) {
					t.Fatalf("%s = %q, want it to start %q", key, msg, prefix)
				}
			} else if msg != tc.message {
				t.Fatalf("%s = %q\n          want %q", key, msg, tc.message)
			}
			if _, hasType := body["Type"]; hasType == tc.noUserType {
				t.Errorf("body %s: Type present %v, want %v", raw, hasType, !tc.noUserType)
			}
		})
	}

	// The SDK sees the same errors, typed.
	_, err := c.ListCodeSigningConfigs(ctx(t), &lambda.ListCodeSigningConfigsInput{})
	apiErr(t, err, "NotImplementedException", "furl does not support the Lambda operation ListCodeSigningConfigs yet.")
	_, err = c.CreateFunction(ctx(t), &lambda.CreateFunctionInput{FunctionName: aws.String("alpha"), Runtime: types.RuntimeNodejs20x,
		Role: aws.String(testRole), Handler: aws.String("index.handler"), Code: &types.FunctionCode{ZipFile: good}})
	var conflict *types.ResourceConflictException
	if !errors.As(err, &conflict) || aws.ToString(conflict.Type) != "User" {
		t.Fatalf("CreateFunction of an existing name: %v", err)
	}

	if after := snapshot(t, c, true); after != before {
		t.Fatalf("bad input changed the state:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	entries, err := os.ReadDir(filepath.Join(f.dataDir, "code"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".zip") {
			t.Errorf("stray file left in the code store: %s", e.Name())
		}
	}
	if len(entries) != 2 { // alpha's and beta's code, each shared by $LATEST and version 1
		names := []string{}
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("code store holds %d files, want the 2 referenced: %v", len(entries), names)
	}
}

// corruptZip is a zip whose only entry fails its CRC check.
func corruptZip(t testing.TB) []byte {
	z := makeZip(t, map[string]string{"index.js": "exports.handler = async () => 'hello world, hello world';"})
	i := bytes.Index(z, []byte("hello world"))
	if i < 0 {
		// Deflated: flip a byte of the compressed data instead.
		i = 40
	}
	z[i] ^= 0xff
	return z
}

// symlinkZip is a zip holding one symbolic link.
func symlinkZip(t testing.TB, name, target string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: name, Method: zip.Store}
	h.SetMode(os.ModeSymlink | 0o777)
	w, err := zw.CreateHeader(h)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, target)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// zipBomb is a small zip whose one entry unpacks to n zero bytes.
func zipBomb(t testing.TB, n int64) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) { return flate.NewWriter(w, flate.BestSpeed) })
	w, err := zw.Create("zeros.bin")
	if err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	for left := n; left > 0; {
		chunk := min(left, int64(len(zeros)))
		if _, err := w.Write(zeros[:chunk]); err != nil {
			t.Fatal(err)
		}
		left -= chunk
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if buf.Len() > 2<<20 {
		t.Fatalf("zip bomb is %d bytes", buf.Len())
	}
	return buf.Bytes()
}
