// Package node holds the Node.js runtime client furl ships for its process
// sandbox.
package node

import _ "embed"

// FileName is the name the client is written under.
const FileName = "furl-node-runtime.mjs"

// Client is the runtime client's source.
//
//go:embed runtime.mjs
var Client []byte
