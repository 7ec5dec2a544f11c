// Package python holds the Python runtime client furl ships for its
// process sandbox.
package python

import _ "embed"

// FileName is the name the client is written under.
const FileName = "furl-python-runtime.py"

// Client is the runtime client's source.
//
//go:embed bootstrap.py
var Client []byte
