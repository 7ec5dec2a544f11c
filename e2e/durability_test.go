package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
)

// A restart changes nothing: the same functions, versions, aliases, URL
// ids, policies, revisions, reservations and tags, at the same addresses.
func TestStateSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	first := startFurl(t, dir, "127.0.0.1:0")
	populate(t, first.client())
	before := snapshot(t, first.client(), true)
	first.stop()

	second := startFurl(t, dir, first.addr)
	after := snapshot(t, second.client(), true)
	if before != after {
		t.Fatalf("state changed across a restart:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	// And it keeps working: the next version number follows on.
	c := second.client()
	if _, err := c.UpdateFunctionCode(ctx(t), &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("alpha"), ZipFile: nodeZip(t, "after restart"), Publish: true}); err != nil {
		t.Fatal(err)
	}
	v, err := c.GetFunctionConfiguration(ctx(t), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("alpha"), Qualifier: aws.String("2")})
	if err != nil || aws.ToString(v.Version) != "2" {
		t.Fatalf("publishing after a restart: %v %v", v, err)
	}
}

// After kill -9 every acknowledged write is there, and a write that was in
// flight is either wholly there or wholly absent. (kill -9 keeps the
// kernel's page cache, so this proves atomicity, not that furl syncs to
// the disk; that rests on bbolt's commit and the code store's fsyncs.)
func TestStateSurvivesKill9(t *testing.T) {
	dir := t.TempDir()
	f := startFurl(t, dir, "127.0.0.1:0")
	c := f.client()
	populate(t, c)
	settled := snapshot(t, c, false)

	// Writers create functions until the process dies under them.
	type outcome struct {
		name string
		code []byte
		ok   bool
	}
	var (
		mu       sync.Mutex
		outcomes []outcome
		wg       sync.WaitGroup
		acked    = make(chan struct{}, 1000)
	)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				name := fmt.Sprintf("crash-%d-%d", w, i)
				code := makeZip(t, map[string]string{"index.js": name, "pad.bin": string(bytes.Repeat([]byte{byte(i)}, 64*1024))})
				_, err := c.CreateFunction(ctx(t), &lambda.CreateFunctionInput{
					FunctionName: aws.String(name), Runtime: types.RuntimeNodejs20x, Role: aws.String(testRole),
					Handler: aws.String("index.handler"), Code: &types.FunctionCode{ZipFile: code},
				})
				mu.Lock()
				outcomes = append(outcomes, outcome{name, code, err == nil})
				mu.Unlock()
				if err != nil {
					return
				}
				acked <- struct{}{}
			}
		}(w)
	}
	for i := 0; i < 40; i++ {
		select {
		case <-acked:
		case <-time.After(30 * time.Second):
			t.Fatal("writers made no progress")
		}
	}
	f.kill()
	wg.Wait()

	g := startFurl(t, dir, "127.0.0.1:0")
	c = g.client()
	confirmed := 0
	for _, o := range outcomes {
		got, err := c.GetFunction(ctx(t), &lambda.GetFunctionInput{FunctionName: aws.String(o.name)})
		var ae smithy.APIError
		switch {
		case err == nil:
			confirmed++
			resp, err := http.Get(aws.ToString(got.Code.Location))
			if err != nil {
				t.Fatalf("%s: download code: %v", o.name, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !bytes.Equal(body, o.code) || aws.ToString(got.Configuration.CodeSha256) != codeSha256(o.code) {
				t.Fatalf("%s survived the crash with broken code (%d bytes, sha %s)", o.name, len(body), aws.ToString(got.Configuration.CodeSha256))
			}
		case errors.As(err, &ae) && ae.ErrorCode() == "ResourceNotFoundException":
			if o.ok {
				t.Fatalf("%s was acknowledged but is gone after kill -9", o.name)
			}
		default:
			t.Fatalf("%s: %v", o.name, err)
		}
	}
	if confirmed < 40 {
		t.Fatalf("only %d functions survived, 40 were acknowledged", confirmed)
	}
	// What was there before the writers started is exactly as it was.
	for _, o := range outcomes {
		if _, err := c.DeleteFunction(ctx(t), &lambda.DeleteFunctionInput{FunctionName: aws.String(o.name)}); err != nil {
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != "ResourceNotFoundException" {
				t.Fatal(err)
			}
		}
	}
	if after := snapshot(t, c, false); after != settled {
		t.Fatalf("state before the crash changed:\nbefore:\n%s\nafter:\n%s", settled, after)
	}
	// Only the code of alpha and beta is left on disk: what the crash left
	// was swept when furl started again, and the rest went with its
	// functions.
	if files := codeFiles(t, g); len(files) != 2 {
		t.Fatalf("code store holds %v, want alpha's and beta's code", files)
	}
}

// SIGTERM lets a request that is still uploading finish, and its write
// lands.
func TestGracefulShutdownFinishesInFlightRequests(t *testing.T) {
	dir := t.TempDir()
	f := startFurl(t, dir, "127.0.0.1:0")
	c := f.client()
	createFunction(t, c, "slow")

	code := makeZip(t, map[string]string{"index.js": "exports.handler=async()=>1", "big.bin": string(bytes.Repeat([]byte("x"), 1<<20))})
	body := []byte(fmt.Sprintf(`{"ZipFile":%q}`, encodeBase64(code)))
	pr, pw := io.Pipe()
	req, err := http.NewRequest(http.MethodPut, f.url("/2015-03-31/functions/slow/code"), pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = int64(len(body))
	type result struct {
		status int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{0, err}
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		done <- result{resp.StatusCode, nil}
	}()
	half := len(body) / 2
	if _, err := pw.Write(body[:half]); err != nil {
		t.Fatal(err)
	}
	// Signal only once furl has the request: one still in the listen
	// queue would be refused, rightly, by a server shutting down.
	f.logs.waitFor(t, `method=PUT path=/2015-03-31/functions/slow/code`, 10*time.Second) // the "request started" line
	if err := f.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// furl is shutting down while the upload is half done.
	f.logs.waitFor(t, `msg="shutting down: open streams are cut now`, 10*time.Second)
	if _, err := pw.Write(body[half:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	r := <-done
	if r.err != nil || r.status != http.StatusOK {
		t.Fatalf("in-flight UpdateFunctionCode during shutdown: status %d, err %v", r.status, r.err)
	}
	select {
	case <-f.exited:
		if f.exitErr != nil {
			t.Fatalf("furl exited with %v after SIGTERM", f.exitErr)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("furl did not exit within 15s of SIGTERM")
	}

	g := startFurl(t, dir, "127.0.0.1:0")
	got, err := g.client().GetFunctionConfiguration(ctx(t), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("slow")})
	if err != nil || aws.ToString(got.CodeSha256) != codeSha256(code) {
		t.Fatalf("the upload finished during shutdown did not land: %v %v", got, err)
	}
}
