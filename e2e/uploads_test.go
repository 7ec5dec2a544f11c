package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// A ZipFile written with JSON escapes and line breaks, as some encoders
// write base64, is decoded exactly: the function's code is the zip, byte
// for byte.
func TestCodeUploadWithJSONEscapes(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	first := nodeZip(t, "escaped")
	second := nodeZip(t, "escaped again")
	// Every '/' escaped two ways, and a line break every 76 characters.
	escape := func(z []byte) string {
		var b strings.Builder
		for i, ch := range encodeBase64(z) {
			if i > 0 && i%76 == 0 {
				b.WriteString(`\n`)
			}
			switch {
			case ch == '/' && i%2 == 0:
				b.WriteString(`\/`)
			case ch == '/':
				b.WriteString(`\u002F`)
			default:
				b.WriteRune(ch)
			}
		}
		return b.String()
	}
	body := `{"FunctionName":"esc","Runtime":"nodejs22.x","Role":"` + testRole + `","Handler":"index.handler","Code":{"ZipFile":"` + escape(first) + `"}}`
	if resp, raw := f.do("POST", "/2015-03-31/functions", "application/json", []byte(body)); resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, raw)
	}
	checkCode(t, c, "esc", first)
	body = `{"ZipFile":"` + escape(second) + `","Publish":true}`
	if resp, raw := f.do("PUT", "/2015-03-31/functions/esc/code", "application/json", []byte(body)); resp.StatusCode != http.StatusOK {
		t.Fatalf("update: %d %s", resp.StatusCode, raw)
	}
	checkCode(t, c, "esc", second)
}

// checkCode asserts that a function's code is zip: its CodeSha256, and
// the bytes its Code.Location serves.
func checkCode(t testing.TB, c *lambda.Client, name string, zip []byte) {
	t.Helper()
	out, err := c.GetFunction(ctx(t), &lambda.GetFunctionInput{FunctionName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.Configuration.CodeSha256); got != codeSha256(zip) {
		t.Fatalf("%s: CodeSha256 %s, want %s", name, got, codeSha256(zip))
	}
	resp, err := http.Get(aws.ToString(out.Code.Location))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.Equal(got, zip) {
		t.Fatalf("%s: Code.Location serves %d bytes (%v), want the %d-byte zip", name, len(got), err, len(zip))
	}
}

// plainFurl is furl built without the race detector, for measuring memory:
// under the detector most of a process's memory is the detector's own, and
// base64 decodes at a tenth of the speed.
var plainFurl struct {
	once sync.Once
	bin  string
	err  error
}

func plainFurlBin(t testing.TB) string {
	t.Helper()
	if !raceEnabled {
		return furlBin
	}
	plainFurl.once.Do(func() {
		bin := filepath.Join(filepath.Dir(furlBin), "furl-norace")
		out, err := exec.Command("go", "build", "-o", bin, "github.com/furl-dev/furl/cmd/furl").CombinedOutput()
		if err != nil {
			plainFurl.err = fmt.Errorf("building furl without -race: %v\n%s", err, out)
		}
		plainFurl.bin = bin
	})
	if plainFurl.err != nil {
		t.Fatal(plainFurl.err)
	}
	return plainFurl.bin
}

// floodData is the size of the random file in each flood upload: with
// the zip around it and base64, a request of about 67 MB, near AWS's
// 70,167,211-byte limit. It is a multiple of 3, so that its base64 can be
// spliced between other base64 text.
const floodData = 49_999_998

// floodCode is what all flood uploads share: incompressible bytes, their
// CRC-32 and their base64, computed once (under the race detector, making
// them per upload would take the test a minute).
type floodCode struct {
	data []byte
	crc  uint32
	b64  string
}

func newFloodCode() *floodCode {
	data := make([]byte, floodData)
	rand.NewChaCha8([32]byte{7}).Read(data)
	return &floodCode{data: data, crc: crc32.ChecksumIEEE(data), b64: base64.StdEncoding.EncodeToString(data)}
}

// request is a CreateFunction request for name as an SDK sends it, whose
// zip is head, the shared random file's data, and tail (see zipAround);
// and the zip's CodeSha256.
func (fc *floodCode) request(name string, head, tail []byte) (body io.Reader, length int64, codeSha string) {
	sum := sha256.New()
	sum.Write(head)
	sum.Write(fc.data)
	sum.Write(tail)
	parts := []string{
		`{"FunctionName":"` + name + `","Runtime":"nodejs22.x","Role":"` + testRole + `","Handler":"index.handler","Code":{"ZipFile":"`,
		base64.StdEncoding.EncodeToString(head), fc.b64, base64.StdEncoding.EncodeToString(tail), `"}}`,
	}
	readers := make([]io.Reader, len(parts))
	for i, p := range parts {
		readers[i] = strings.NewReader(p)
		length += int64(len(p))
	}
	return io.MultiReader(readers...), length, base64.StdEncoding.EncodeToString(sum.Sum(nil))
}

// zipAround builds a zip holding a small file naming the function, then
// the shared random file, stored, and returns its bytes before and after
// the random file's data. The part before is a multiple of 3 bytes long,
// so that the three parts' base64 texts join into the zip's.
func (fc *floodCode) zipAround(t testing.TB, name string) (head, tail []byte) {
	for pad := ""; ; pad += " " {
		var out splitWriter
		zw := zip.NewWriter(&out)
		w, err := zw.CreateHeader(&zip.FileHeader{Name: "index.js", Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, "// "+name+pad+"\n")
		raw, err := zw.CreateRaw(&zip.FileHeader{Name: "random.bin", Method: zip.Store, CRC32: fc.crc,
			CompressedSize64: floodData, UncompressedSize64: floodData})
		if err != nil {
			t.Fatal(err)
		}
		zw.Flush()
		out.skip = true // the data is spliced in from the shared base64
		raw.Write(fc.data)
		zw.Flush()
		out.skip, out.cur = false, &out.tail
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		if out.head.Len()%3 == 0 {
			return out.head.Bytes(), out.tail.Bytes()
		}
	}
}

// splitWriter collects a zip's bytes before and after a skipped part.
type splitWriter struct {
	head, tail bytes.Buffer
	cur        *bytes.Buffer
	skip       bool
}

func (s *splitWriter) Write(p []byte) (int, error) {
	switch {
	case s.skip:
	case s.cur == nil:
		s.head.Write(p)
	default:
		s.cur.Write(p)
	}
	return len(p), nil
}

// floodRSSBound is what furl's peak RSS must stay under while it receives
// 16 uploads of 67 MB at once. Reading bodies whole took it to 2.6 GB.
const floodRSSBound = 256 << 20

// Sixteen concurrent CreateFunction uploads of 67 MB: furl's memory stays
// bounded (the bodies stream to disk, four at a time), it answers its
// health check and an invoke of a function created before the flood
// throughout, and every function gets its own code.
func TestUploadFloodStaysBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 1 GB of uploads")
	}
	f := startFurlBinary(t, plainFurlBin(t), t.TempDir(), "127.0.0.1:0", "--log-level", "info")
	pid := f.cmd.Process.Pid
	const uploads = 16
	code := newFloodCode()
	c := f.client()
	createGo(t, c, "echo", 30, nil)

	// Sample RSS while the flood runs; the kernel's VmHWM is the exact peak.
	stop := make(chan struct{})
	var sampled atomic.Int64
	var samplerDone sync.WaitGroup
	samplerDone.Go(func() {
		for {
			if rss, ok := procStatus(pid, "VmRSS"); ok {
				rss <<= 10
				sampled.Store(max(sampled.Load(), rss))
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	// Ask for health, and invoke echo, until the last upload is answered.
	var healthOK, healthBad, invokeOK atomic.Int64
	invokeBad := make(chan string, 1)
	var healthDone sync.WaitGroup
	healthDone.Go(func() {
		client := &http.Client{Timeout: 10 * time.Second}
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			resp, err := client.Get(f.url("/_furl/health"))
			if err == nil {
				resp.Body.Close()
			}
			if err == nil && resp.StatusCode == http.StatusOK {
				healthOK.Add(1)
			} else {
				healthBad.Add(1)
			}
			value := strconv.Itoa(n)
			cctx, cancel := context.WithTimeout(ctx(t), 10*time.Second)
			out, err := c.Invoke(cctx, &lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: []byte(`{"action":"echo","value":"` + value + `"}`)})
			cancel()
			switch {
			case err != nil:
				select {
				case invokeBad <- err.Error():
				default:
				}
			case out.FunctionError != nil || !bytes.Contains(out.Payload, []byte(`"value":"`+value+`"`)):
				select {
				case invokeBad <- string(out.Payload):
				default:
				}
			default:
				invokeOK.Add(1)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})

	sums := make([]string, uploads)
	var wg sync.WaitGroup
	errs := make(chan error, uploads)
	start := time.Now()
	for i := range uploads {
		name := fmt.Sprintf("flood-%02d", i)
		head, tail := code.zipAround(t, name)
		wg.Go(func() {
			body, length, sum := code.request(name, head, tail)
			req, err := http.NewRequest("POST", f.url("/2015-03-31/functions"), body)
			if err != nil {
				errs <- err
				return
			}
			req.ContentLength = length
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- fmt.Errorf("%s: %w", name, err)
				return
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				errs <- fmt.Errorf("%s: %d %s", name, resp.StatusCode, raw)
				return
			}
			sums[i] = sum
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stop)
	samplerDone.Wait()
	healthDone.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	peak, ok := procStatus(pid, "VmHWM")
	if !ok {
		t.Fatal("furl's /proc status has no VmHWM")
	}
	peak <<= 10
	t.Logf("%d uploads, each a request of over %d bytes, in %s: furl's peak RSS %d MB (VmHWM; highest VmRSS sampled %d MB); %d health checks answered, %d not; %d invokes of echo answered",
		uploads, len(code.b64), elapsed.Round(time.Millisecond), peak>>20, sampled.Load()>>20, healthOK.Load(), healthBad.Load(), invokeOK.Load())
	if peak > floodRSSBound {
		t.Errorf("furl's peak RSS was %d MB; the bound is %d MB", peak>>20, floodRSSBound>>20)
	}
	if healthBad.Load() > 0 || healthOK.Load() < 2 {
		t.Errorf("during the flood, %d health checks were answered and %d were not", healthOK.Load(), healthBad.Load())
	}
	close(invokeBad)
	if msg, bad := <-invokeBad; bad || invokeOK.Load() < 2 {
		t.Errorf("during the flood, %d invokes of echo were answered; a failed one: %s", invokeOK.Load(), msg)
	}
	if t.Failed() {
		return
	}

	for i, want := range sums {
		name := fmt.Sprintf("flood-%02d", i)
		out, err := c.GetFunctionConfiguration(ctx(t), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		if got := aws.ToString(out.CodeSha256); got != want {
			t.Errorf("%s: CodeSha256 %s, want %s", name, got, want)
		}
	}
	files := codeFiles(t, f)
	for _, name := range files {
		if !strings.HasSuffix(name, ".zip") {
			t.Errorf("temporary file %s left in the code store", name)
		}
	}
	if len(files) != uploads+1 { // and echo's
		t.Errorf("code store holds %d files, want %d: %v", len(files), uploads+1, files)
	}
}
