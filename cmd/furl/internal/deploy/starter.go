package deploy

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// starterHandler is the function furl deploy writes into an empty
// folder: a Node handler that streams its answer, so that a newcomer's
// first URL shows what furl is for, and whose source says where to edit.
const starterHandler = `// A function URL handler that streams its answer. furl deploy wrote it
// because this folder was empty; it is yours to change. Under
// "furl deploy --watch", the next request after you save runs your code.
export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 200,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
  const { method, path } = event.requestContext.http;
  responseStream.write("Hello from furl: " + method + " " + path + "\n");
  for (let i = 1; i <= 5; i++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    responseStream.write("chunk " + i + " of 5, sent as soon as it was written\n");
  }
  responseStream.end();
});
`

// starterConfig makes the starter's URL stream.
const starterConfig = "{\n  \"stream\": true\n}\n"

// starterFiles are what writeStarter writes, by name.
var starterFiles = map[string]string{"index.mjs": starterHandler, ConfigFile: starterConfig}

// writeStarter writes the starter function into dir when dir is a folder
// with nothing in it but hidden entries (a fresh git repository is
// empty), and says so. It reports whether it wrote. A path that is not a
// folder, or a folder with anything in it, is left alone.
func writeStarter(dir string, stdout io.Writer) (bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		// Not a folder (a zip, or nothing): load says what is wrong.
		return false, nil
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") {
			return false, nil
		}
	}
	for name, content := range starterFiles {
		// O_EXCL: never overwrite, even a file made since ReadDir.
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return false, fmt.Errorf("write the starter function: %w", err)
		}
		_, werr := io.WriteString(f, content)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return false, fmt.Errorf("write the starter function: %w", werr)
		}
	}
	fmt.Fprintf(stdout, "The folder was empty: furl wrote a starter function that streams its answer (index.mjs, and %s\nto stream its URL). Edit index.mjs; with furl deploy --watch the next request runs what you saved.\n", ConfigFile)
	return true, nil
}
