package gateway

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode"
	"unicode/utf8"
)

// blobSplitter reads a JSON request body as it arrives and takes one
// base64 member out of it: wherever the member named by path (from the
// top-level object down, names matched as encoding/json matches them) is a
// string, its text is decoded into a sink instead of being kept. The rest
// of the document, small, is kept with that text elided and decoded by
// encoding/json at the end. The outcome is the one encoding/json gives the
// whole body: the same acceptance, the same values, and the same errors at
// the same byte offsets.
//
// To keep errors identical, the splitter checks the syntax itself (it must
// know where strings end) and leaves the wording to encoding/json: a syntax
// error is reproduced by decoding the kept prefix that ends in the bad
// byte, and an elided member that is not valid base64 is kept as "!",
// which encoding/json reports in its place, in document order, before the
// real error is put back.
type blobSplitter struct {
	path    []string
	maxKept int
	open    func() (blobSink, error)
	sink    blobSink

	kept  []byte // the document without the elided text
	edits []edit // where text was elided, to map offsets back

	space   spaceTracker
	scanned bool  // false once the scan stopped early
	synErr  error // the syntax error the whole body has, if one was found
	tooBig  bool  // the kept document outgrew maxKept

	stack []frame
	state scanState
	lit   string // what remains of a literal (true, false, null)

	// The string being read.
	str     strKind
	uDigits int  // hex digits of a \u escape read so far
	uValue  rune // their value
	escRaw  []byte
	key     []byte
	keyLong bool
	match   bool // the last key read names the path's next step

	blob     *base64Stream
	unesc    []byte // what an escape in blob text stands for
	blobFrom int    // where the blob's opening quote is in kept
	blobLen  int64
	blobErr  error // the first blob that was not valid base64
	// last is what the member at path held last: a string read into the
	// sink, or something else encoding/json keeps in the document.
	last lastValue
}

// blobSink receives a blob's decoded bytes. Reset empties it for a later
// occurrence of the member, which replaces an earlier one.
type blobSink interface {
	io.Writer
	Reset() error
}

// edit records elided text: offsets at or past at in the kept document
// are delta bytes further on in the body.
type edit struct {
	at, delta int64
}

type frame struct {
	object bool
	// step is the index in path of the name this object's keys are
	// compared with, or -1 when the object is off the path.
	step int
}

type scanState int

const (
	stValue       scanState = iota // a value may begin
	stArrayFirst                   // after '[': a value or ']'
	stObjectFirst                  // after '{': a key or '}'
	stKey                          // after ',' in an object: a key
	stColon                        // after a key
	stAfterValue                   // after a value inside a container
	stEnd                          // after the top-level value
	stString
	stEscape  // after '\' in a string
	stUnicode // inside a \u escape
	stLiteral
	stMinus   // after a number's '-'
	stZero    // after a number's leading 0
	stInt     // in a number's integer digits
	stDot     // after a number's '.'
	stFrac    // in a number's fraction digits
	stExp     // after a number's 'e'
	stExpSign // after the exponent's sign
	stExpInt  // in the exponent's digits
)

type strKind int

const (
	strValue strKind = iota // a string value kept as it is
	strKey                  // an object key kept, and read when on the path
	strBlob                 // the member's text, decoded into the sink
)

type lastValue int

const (
	lastNone lastValue = iota
	lastBlob
	lastOther
)

// maxNesting is encoding/json's limit on nested arrays and objects.
const maxNesting = 10000

// maxKeyBytes bounds a key read for matching; longer keys match no name
// of a path.
const maxKeyBytes = 64

// errKeptTooLarge says the document outside the blob outgrew its bound.
var errKeptTooLarge = errors.New("the request's members other than the code are too large")

func newBlobSplitter(path []string, maxKept int, open func() (blobSink, error)) *blobSplitter {
	return &blobSplitter{path: path, maxKept: maxKept, open: open, scanned: true, space: spaceTracker{all: true}}
}

// Write reads the next part of the body. Its error is the sink's; what is
// wrong with the document is reported by decode.
func (b *blobSplitter) Write(p []byte) (int, error) {
	b.space.write(p)
	if !b.scanned {
		return len(p), nil
	}
	if err := b.scan(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// scan runs the syntax check over p, keeping what is not blob text.
func (b *blobSplitter) scan(p []byte) error {
	keepFrom := 0 // the first byte of p not yet kept, outside blob text
	var text plainText
	for i := 0; i < len(p); i++ {
		if b.inBlob() && b.state == stString {
			// Blob text up to the next quote or backslash goes to the
			// decoder in runs; what the decoder does not take at once
			// (a control character among it) is read below.
			run, err := b.blob.decodeRun(p[i:text.end(p, i)])
			if err != nil {
				return err
			}
			b.blobLen += int64(run)
			if i += run; i == len(p) {
				break
			}
		}
		inBlob := b.inBlob()
		switch b.step(p[i]) {
		case stepBad:
			if inBlob {
				keepFrom = i
			}
			b.syntaxError(p[keepFrom : i+1])
			return nil
		case stepBlobOpen:
			if !b.keep(p[keepFrom : i+1]) {
				return nil
			}
			if err := b.openBlob(); err != nil {
				return err
			}
		case stepBlobClose:
			if err := b.closeBlob(); err != nil || !b.scanned {
				return err
			}
			keepFrom = i + 1
		default:
			if inBlob {
				b.blobLen++
				if err := b.blobWrite(b.unesc); err != nil {
					return err
				}
				b.unesc = b.unesc[:0]
			}
		}
	}
	if !b.inBlob() {
		b.keep(p[keepFrom:])
	}
	return nil
}

// plainText finds where a string's plain text ends in a read: at the next
// quote or backslash. It remembers both, so that text with many escapes
// is not searched again and again.
type plainText struct {
	quote, backslash int // offsets in the read; 0 before the first search
	searched         bool
}

// end is where the plain text that starts at i ends.
func (t *plainText) end(p []byte, i int) int {
	if !t.searched || t.quote < i {
		t.quote = nextByte(p, i, '"')
	}
	if !t.searched || t.backslash < i {
		t.backslash = nextByte(p, i, '\\')
	}
	t.searched = true
	return min(t.quote, t.backslash)
}

// nextByte is the offset of the first c in p at or after i, or len(p).
func nextByte(p []byte, i int, c byte) int {
	if j := bytes.IndexByte(p[i:], c); j >= 0 {
		return i + j
	}
	return len(p)
}

// inBlob says whether the scan is inside blob text.
func (b *blobSplitter) inBlob() bool {
	switch b.state {
	case stString, stEscape, stUnicode:
		return b.str == strBlob
	}
	return false
}

// keep appends kept bytes, stopping the scan when they outgrow the bound.
func (b *blobSplitter) keep(p []byte) bool {
	if len(b.kept)+len(p) > b.maxKept {
		b.tooBig, b.scanned = true, false
		b.kept = nil
		return false
	}
	b.kept = append(b.kept, p...)
	return true
}

type stepResult int

const (
	stepOK stepResult = iota
	stepBad
	stepBlobOpen  // c opened the blob's string
	stepBlobClose // c closed it
)

// step advances the syntax check by one byte.
func (b *blobSplitter) step(c byte) stepResult {
	switch b.state {
	case stString:
		return b.stringByte(c)
	case stEscape:
		return b.escapeByte(c)
	case stUnicode:
		return b.unicodeByte(c)
	case stLiteral:
		return b.literalByte(c)
	case stMinus, stZero, stInt, stDot, stFrac, stExp, stExpSign, stExpInt:
		if r, ended := b.numberByte(c); !ended {
			return r
		}
		// The number ended before c: c is read after it.
		b.endValue()
	}
	return b.between(c)
}

// between reads a byte outside any string, number or literal.
func (b *blobSplitter) between(c byte) stepResult {
	if isSpace(c) {
		return stepOK
	}
	switch b.state {
	case stArrayFirst:
		if c == ']' {
			return b.pop()
		}
		return b.beginValue(c)
	case stValue:
		return b.beginValue(c)
	case stObjectFirst:
		if c == '}' {
			return b.pop()
		}
		fallthrough
	case stKey:
		if c == '"' {
			b.beginString(strKey)
			return stepOK
		}
	case stColon:
		if c == ':' {
			b.state = stValue
			return stepOK
		}
	case stAfterValue:
		return b.afterValue(c)
	}
	return stepBad
}

// afterValue reads what follows a value inside an array or object.
func (b *blobSplitter) afterValue(c byte) stepResult {
	object := b.stack[len(b.stack)-1].object
	switch {
	case c == ',' && object:
		b.state = stKey
	case c == ',':
		b.state = stValue
	case c == '}' && object, c == ']' && !object:
		return b.pop()
	default:
		return stepBad
	}
	return stepOK
}

func (b *blobSplitter) literalByte(c byte) stepResult {
	if c != b.lit[0] {
		return stepBad
	}
	if b.lit = b.lit[1:]; b.lit == "" {
		b.endValue()
	}
	return stepOK
}

// beginValue reads the first byte of a value.
func (b *blobSplitter) beginValue(c byte) stepResult {
	depth := b.onPathDepth()
	target := b.match && depth == len(b.path)
	nested := b.match && depth < len(b.path) || len(b.stack) == 0
	b.match = false
	if target {
		b.last = lastOther
	}
	switch c {
	case '{', '[':
		if len(b.stack) == maxNesting {
			return stepBad
		}
		f := frame{object: c == '{', step: -1}
		if f.object && nested {
			f.step = depth
		}
		b.stack = append(b.stack, f)
		b.state = stArrayFirst
		if f.object {
			b.state = stObjectFirst
		}
	case '"':
		if target {
			b.last = lastBlob
			b.beginString(strBlob)
			return stepBlobOpen
		}
		b.beginString(strValue)
	case 't':
		b.state, b.lit = stLiteral, "rue"
	case 'f':
		b.state, b.lit = stLiteral, "alse"
	case 'n':
		b.state, b.lit = stLiteral, "ull"
	case '-':
		b.state = stMinus
	case '0':
		b.state = stZero
	default:
		if c < '1' || c > '9' {
			return stepBad
		}
		b.state = stInt
	}
	return stepOK
}

// onPathDepth is how many names of the path lead to the value about to be
// read, when the last key matched (0 for the top-level value).
func (b *blobSplitter) onPathDepth() int {
	if len(b.stack) == 0 {
		return 0
	}
	return b.stack[len(b.stack)-1].step + 1
}

func (b *blobSplitter) beginString(k strKind) {
	b.state, b.str = stString, k
	b.key, b.keyLong = b.key[:0], false
}

func (b *blobSplitter) stringByte(c byte) stepResult {
	switch {
	case c == '"':
		return b.endString()
	case c == '\\':
		b.state = stEscape
		b.escRaw = append(b.escRaw[:0], c)
		return stepOK
	case c < 0x20:
		return stepBad
	}
	if b.str == strBlob {
		b.unesc = append(b.unesc, c)
	}
	b.keyByte(c)
	return stepOK
}

func (b *blobSplitter) escapeByte(c byte) stepResult {
	var v byte
	switch c {
	case '"', '\\', '/':
		v = c
	case 'b':
		v = '\b'
	case 'f':
		v = '\f'
	case 'n':
		v = '\n'
	case 'r':
		v = '\r'
	case 't':
		v = '\t'
	case 'u':
		b.state, b.uDigits, b.uValue = stUnicode, 0, 0
		b.escRaw = append(b.escRaw, c)
		return stepOK
	default:
		return stepBad
	}
	b.state = stString
	b.unescaped(rune(v))
	return stepOK
}

func (b *blobSplitter) unicodeByte(c byte) stepResult {
	var d byte
	switch {
	case '0' <= c && c <= '9':
		d = c - '0'
	case 'a' <= c && c <= 'f':
		d = c - 'a' + 10
	case 'A' <= c && c <= 'F':
		d = c - 'A' + 10
	default:
		return stepBad
	}
	b.escRaw = append(b.escRaw, c)
	b.uValue = b.uValue<<4 | rune(d)
	if b.uDigits++; b.uDigits == 4 {
		b.state = stString
		b.unescaped(b.uValue)
	}
	return stepOK
}

// unescaped takes the character an escape stands for.
func (b *blobSplitter) unescaped(r rune) {
	if b.str == strBlob {
		// Only the position of the first byte that is not ASCII
		// matters to base64: it is where decoding fails.
		c := byte(r)
		if r >= utf8.RuneSelf {
			c = utf8.RuneSelf
		}
		b.unesc = append(b.unesc, c)
		return
	}
	if b.str == strKey && !b.keyLong {
		// A surrogate becomes U+FFFD, as encoding/json makes a lone one;
		// a pair folds to no name of a path either way.
		b.key = utf8.AppendRune(b.key, r)
		b.keyLong = len(b.key) > maxKeyBytes
	}
}

// keyByte takes a key's plain byte.
func (b *blobSplitter) keyByte(c byte) {
	if b.str == strKey && !b.keyLong {
		b.key = append(b.key, c)
		b.keyLong = len(b.key) > maxKeyBytes
	}
}

func (b *blobSplitter) endString() stepResult {
	switch b.str {
	case strKey:
		b.match = false
		if top := b.stack[len(b.stack)-1]; top.step >= 0 && !b.keyLong {
			name := b.path[top.step]
			b.match = string(b.key) == name || bytes.EqualFold(b.key, []byte(name))
		}
		b.state = stColon
		return stepOK
	case strBlob:
		b.endValue()
		return stepBlobClose
	}
	b.endValue()
	return stepOK
}

// numberByte reads c as part of a number. ended says the number ended
// before c.
func (b *blobSplitter) numberByte(c byte) (r stepResult, ended bool) {
	digit := '0' <= c && c <= '9'
	next := b.state
	switch b.state {
	case stMinus:
		switch {
		case c == '0':
			next = stZero
		case digit:
			next = stInt
		default:
			return stepBad, false
		}
	case stZero, stInt:
		switch {
		case digit && b.state == stInt:
		case c == '.':
			next = stDot
		case c == 'e' || c == 'E':
			next = stExp
		default:
			return stepOK, true
		}
	case stDot:
		if !digit {
			return stepBad, false
		}
		next = stFrac
	case stFrac:
		switch {
		case digit:
		case c == 'e' || c == 'E':
			next = stExp
		default:
			return stepOK, true
		}
	case stExp:
		switch {
		case c == '+' || c == '-':
			next = stExpSign
		case digit:
			next = stExpInt
		default:
			return stepBad, false
		}
	case stExpSign:
		if !digit {
			return stepBad, false
		}
		next = stExpInt
	case stExpInt:
		if !digit {
			return stepOK, true
		}
	}
	b.state = next
	return stepOK, false
}

// endValue moves past a complete value.
func (b *blobSplitter) endValue() {
	if len(b.stack) == 0 {
		b.state = stEnd
		return
	}
	b.state = stAfterValue
}

func (b *blobSplitter) pop() stepResult {
	b.stack = b.stack[:len(b.stack)-1]
	b.endValue()
	return stepOK
}

// openBlob starts decoding an occurrence of the member into the sink.
func (b *blobSplitter) openBlob() error {
	if b.sink == nil {
		sink, err := b.open()
		if err != nil {
			return err
		}
		b.sink = sink
	} else if err := b.sink.Reset(); err != nil {
		return err
	}
	b.blob = newBase64Stream(b.sink)
	b.blobFrom = len(b.kept) - 1
	b.blobLen = 0
	return nil
}

func (b *blobSplitter) blobWrite(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	_, err := b.blob.Write(p)
	return err
}

// closeBlob ends an occurrence: the kept document gets "" in its place,
// or "!" when it is not base64, for encoding/json to report.
func (b *blobSplitter) closeBlob() error {
	decodeErr, err := b.blob.close()
	if err != nil {
		return err
	}
	stand := `"`
	if decodeErr != nil {
		stand = `!"`
		if b.blobErr == nil {
			b.blobErr = decodeErr
		}
	}
	if !b.keep([]byte(stand)) {
		return nil
	}
	b.edits = append(b.edits, edit{at: int64(len(b.kept) - 1), delta: b.blobLen - int64(len(stand)-1)})
	return nil
}

// syntaxError records the error encoding/json finds in the whole body,
// given the bytes read since the last kept ones, up to and including the
// bad byte.
func (b *blobSplitter) syntaxError(bad []byte) {
	b.scanned = false
	prefix := b.prefix(bad)
	b.synErr = b.reproduce(prefix)
	b.kept = nil
}

// prefix is the kept document followed by tail, with an unfinished blob
// standing for itself by its escape in progress.
func (b *blobSplitter) prefix(tail []byte) []byte {
	doc := append([]byte(nil), b.kept...)
	if b.inBlob() {
		var esc []byte
		if b.state != stString {
			esc = b.escRaw
		}
		doc = append(doc, esc...)
		b.edits = append(b.edits, edit{at: int64(b.blobFrom + 1), delta: b.blobLen - int64(len(esc))})
		return append(doc, tail...)
	}
	return append(doc, tail...)
}

// reproduce has encoding/json check doc and returns its syntax error,
// with offsets in the body.
func (b *blobSplitter) reproduce(doc []byte) error {
	var v any
	err := json.Unmarshal(doc, &v)
	var syn *json.SyntaxError
	if !errors.As(err, &syn) {
		return fmt.Errorf("json splitter: encoding/json finds no syntax error where the splitter does (%v)", err)
	}
	return b.remap(err)
}

// decode ends the body and decodes the document into v. It returns
// whether the member's last value was a string read into the sink (v then
// holds an empty placeholder for it), and the error encoding/json gives
// the whole body; an empty body is an empty object. errKeptTooLarge says
// the document outside the blob outgrew its bound.
func (b *blobSplitter) decode(v any) (bool, error) {
	switch {
	case b.space.empty():
		return false, nil
	case b.tooBig:
		return false, errKeptTooLarge
	case b.synErr != nil:
		return false, b.synErr
	case b.state != stEnd && !(len(b.stack) == 0 && b.numberCanEnd()):
		return false, b.reproduceEOF()
	}
	if err := json.Unmarshal(b.kept, v); err != nil {
		var bad base64.CorruptInputError
		if errors.As(err, &bad) && b.blobErr != nil {
			return false, b.blobErr
		}
		return false, b.remap(err)
	}
	return b.last == lastBlob, nil
}

// reproduceEOF returns encoding/json's error for a body that ends inside
// a value.
func (b *blobSplitter) reproduceEOF() error {
	var v any
	err := json.Unmarshal(b.prefix(nil), &v)
	if err == nil {
		return errors.New("json splitter: encoding/json accepts a document the splitter finds unfinished")
	}
	return b.remap(err)
}

func (b *blobSplitter) numberCanEnd() bool {
	switch b.state {
	case stZero, stInt, stFrac, stExpInt:
		return true
	}
	return false
}

// remap moves the offset of a syntax or type error from the kept document
// to the body.
func (b *blobSplitter) remap(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		syn.Offset = b.bodyOffset(syn.Offset)
	case errors.As(err, &typ):
		typ.Offset = b.bodyOffset(typ.Offset)
	}
	return err
}

func (b *blobSplitter) bodyOffset(off int64) int64 {
	var shift int64
	for _, e := range b.edits {
		if off >= e.at {
			shift += e.delta
		}
	}
	return off + shift
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

// spaceTracker follows whether a body is all white space as
// bytes.TrimSpace sees it (Unicode spaces included): such a body is an
// empty request.
type spaceTracker struct {
	all     bool
	partial []byte // the start of a character cut by a read
}

func (s *spaceTracker) write(p []byte) {
	for s.all && len(p) > 0 {
		if len(s.partial) > 0 || !utf8.FullRune(p) {
			// A character cut by a read: complete it a byte at a time.
			s.partial = append(s.partial, p[0])
			p = p[1:]
			if utf8.FullRune(s.partial) {
				r, _ := utf8.DecodeRune(s.partial)
				s.all = unicode.IsSpace(r)
				s.partial = s.partial[:0]
			}
			continue
		}
		r, size := utf8.DecodeRune(p)
		s.all = unicode.IsSpace(r)
		p = p[size:]
	}
}

// empty says the whole body was white space.
func (s *spaceTracker) empty() bool { return s.all && len(s.partial) == 0 }
