package runtimeapi

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
)

// maxOptBytes is the most a function's layers may hold unzipped, all
// together: Lambda's quota of 250 MB for a function and its layers. The
// Layers API checks it when a function is configured; the merge checks it
// again, so that no archive, however it was stored, fills the disk.
const maxOptBytes = 250 << 20

// newOptCache makes the cache of merged layers: a codeCache whose
// directories are named by the ordered list of their layers' hashes, and
// which no version keeps, so that one goes when its last environment ends.
func newOptCache(dataDir string) (*codeCache, error) {
	return newCodeCache(filepath.Join(dataDir, "runtime", "opt"), func(string) bool { return false })
}

// acquireOpt returns the directory holding a function's layers merged in
// order, as its /opt, merging them on first use; release gives it back.
// A function without layers (an Image function among them) has none: "".
func acquireOpt(c *codeCache, fn Function) (dir string, release func(), err error) {
	if len(fn.Layers) == 0 || fn.PackageType == "Image" {
		return "", func() {}, nil
	}
	return c.acquireFilled(optKey(fn.Layers), func(dir string) error { return mergeLayers(fn.Layers, dir) })
}

// optKey names a merge: the same layers in another order merge into
// another /opt.
func optKey(layers []Layer) string {
	h := sha256.New()
	for _, l := range layers {
		fmt.Fprintf(h, "%s\n", l.CodeHash)
	}
	return "layers-" + hex.EncodeToString(h.Sum(nil))
}

// mergeLayers extracts each layer into dir in turn, with the code's
// extraction and its checks: a later layer's file replaces an earlier
// one's.
func mergeLayers(layers []Layer, dir string) error {
	var total uint64
	for _, l := range layers {
		n, err := unzippedSize(l.CodePath)
		if err != nil {
			return fmt.Errorf("layer %s: %w", l.ARN, err)
		}
		total += n
	}
	if total > maxOptBytes {
		return fmt.Errorf("the function's layers hold %d bytes unzipped, more than Lambda's %d", total, maxOptBytes)
	}
	for _, l := range layers {
		if err := extractZip(l.CodePath, dir); err != nil {
			return fmt.Errorf("layer %s: %w", l.ARN, err)
		}
	}
	return nil
}

// unzippedSize is what an archive says its files hold; archive/zip
// refuses to read more than an entry declares.
func unzippedSize(zipPath string) (uint64, error) {
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", zipPath, err)
	}
	defer zr.Close()
	var n uint64
	for _, f := range zr.File {
		if f.UncompressedSize64 > maxOptBytes {
			// Too much alone; and no sum of such sizes wraps around.
			return maxOptBytes + 1, nil
		}
		n += f.UncompressedSize64
	}
	return n, nil
}
