package urlconfig

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkCreateFunction measures a create end to end in the store:
// zip inspection, staging the code with fsync, and the bbolt commit. Its
// floor is two fsyncs of the disk under the data directory.
func BenchmarkCreateFunction(b *testing.B) {
	s := openTestStore(b, b.TempDir())
	zip := buildZip(b, zipEntry{name: "bootstrap", content: "#!/bin/sh\necho hi\n", mode: 0o755})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := s.CreateFunction(context.Background(), createIn(fmt.Sprintf("fn-%d", i), zip)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetFunction measures a read: a bbolt view and two JSON decodes.
func BenchmarkGetFunction(b *testing.B) {
	s := openTestStore(b, b.TempDir())
	if _, err := s.CreateFunction(context.Background(), createIn("fn", buildZip(b, zipEntry{name: "bootstrap", content: "x"}))); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.GetFunction(context.Background(), "fn", nil); err != nil {
			b.Fatal(err)
		}
	}
}
