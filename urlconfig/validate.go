package urlconfig

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// pattern is one of the Lambda API model's string patterns. Text is the
// pattern exactly as the model (and so AWS's messages) spells it; match is
// the whole-string test, which is a Go regexp except for the few model
// patterns that use look-arounds RE2 lacks.
type pattern struct {
	Text  string
	match func(string) bool
}

func rePattern(text string) pattern {
	re := lazyRegexp(`^(?:` + text + `)$`)
	return pattern{Text: text, match: func(s string) bool { return re().MatchString(s) }}
}

// lazyRegexps are the expressions lazyRegexp has made, for the test that
// compiles them all.
var lazyRegexps []func() *regexp.Regexp

// lazyRegexp compiles expr when it is first used. Every execution
// environment's supervisor is this binary too, and compiling the model's
// patterns at its start (which never uses them) cost each cold start
// about 10 ms.
func lazyRegexp(expr string) func() *regexp.Regexp {
	re := sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
	lazyRegexps = append(lazyRegexps, re)
	return re
}

var allDigits = regexp.MustCompile(`^[0-9]+$`)

// notAllDigits builds the model's "(?!^[0-9]+$)(base)" patterns.
func notAllDigits(text, base string) pattern {
	re := lazyRegexp(`^(?:` + base + `)$`)
	return pattern{Text: text, match: func(s string) bool { return re().MatchString(s) && !allDigits.MatchString(s) }}
}

// Patterns of the Lambda API model (botocore lambda/2015-03-31).
var (
	patFunctionName           = rePattern(`(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?`)
	patNamespacedFunctionName = rePattern(`(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?`)
	patQualifier              = rePattern(`\$(LATEST(\.PUBLISHED)?)|[a-zA-Z0-9-_$]+`)
	patURLQualifier           = notAllDigits(`((?!^\d+$)^[0-9a-zA-Z-_]+$)`, `[0-9a-zA-Z-_]+`)
	patAlias                  = notAllDigits(`(?!^[0-9]+$)([a-zA-Z0-9-_]+)`, `[a-zA-Z0-9-_]+`)
	patVersionLatestPublished = rePattern(`(\$LATEST(\.PUBLISHED)?|[0-9]+)`)
	patRole                   = rePattern(`arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+`)
	patHandler                = rePattern(`[^\s]+`)
	patKMSKeyArn              = rePattern(`(arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()`)
	patResourceArn            = patKMSKeyArn
	patStatementID            = rePattern(`([a-zA-Z0-9-_]+)`)
	patNamespacedStatementID  = rePattern(`([a-zA-Z0-9-_.]+)`)
	patAction                 = rePattern(`(lambda:[*]|lambda:[a-zA-Z]+|[*])`)
	patPrincipal              = rePattern(`[^\s]+`)
	patArn                    = rePattern(`arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}(-gov)?-[a-z]+-\d{1})?:(\d{12})?:(.*)`)
	patSourceOwner            = rePattern(`\d{12}`)
	patEventSourceToken       = rePattern(`[a-zA-Z0-9._\-]+`)
	patPrincipalOrgID         = rePattern(`o-[a-z0-9]{10,32}`)
	patTaggableResource       = rePattern(`arn:(aws[a-zA-Z-]*):lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:(function:[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?|code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|capacity-provider:[a-zA-Z0-9-_]+)`)
	patMasterRegion           = rePattern(`ALL|[a-z]{2}(-gov)?-[a-z]+-\d{1}`)
	patLogGroup               = rePattern(`[\.\-_/#A-Za-z0-9]+`)
	patLayerVersionArn        = rePattern(`arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+`)
	patS3Bucket               = notDotEnded(`[0-9A-Za-z\.\-_]*(?<!\.)`, `[0-9A-Za-z.\-_]*`)
)

// notDotEnded builds the model's S3 bucket pattern, whose look-behind
// forbids a final dot.
func notDotEnded(text, base string) pattern {
	re := lazyRegexp(`^(?:` + base + `)$`)
	return pattern{Text: text, match: func(s string) bool { return re().MatchString(s) && !strings.HasSuffix(s, ".") }}
}

// violations collects model-constraint failures in the order AWS reports
// them and renders them as one ValidationException.
type violations []string

func (v *violations) add(value, path, constraint string) {
	*v = append(*v, fmt.Sprintf("Value %s at '%s' failed to satisfy constraint: %s", value, path, constraint))
}

func quote(s string) string { return "'" + s + "'" }

// required records a missing member.
func (v *violations) required(path string) {
	*v = append(*v, fmt.Sprintf("Value null at '%s' failed to satisfy constraint: Member must not be null", path))
}

// str checks a string member's length (in characters) and pattern. A nil
// pattern skips the pattern check; max < 0 means no upper bound.
func (v *violations) str(path, s string, minLen, maxLen int, p *pattern) {
	n := utf8.RuneCountInString(s)
	switch {
	case maxLen >= 0 && n > maxLen:
		v.add(quote(s), path, "Member must have length less than or equal to "+strconv.Itoa(maxLen))
	case n < minLen:
		v.add(quote(s), path, "Member must have length greater than or equal to "+strconv.Itoa(minLen))
	case p != nil && !p.match(s):
		v.add(quote(s), path, "Member must satisfy regular expression pattern: "+p.Text)
	}
}

// optStr checks s only when it is set.
func (v *violations) optStr(path string, s *string, minLen, maxLen int, p *pattern) {
	if s != nil {
		v.str(path, *s, minLen, maxLen, p)
	}
}

// intRange checks an integer member; max < 0 means no upper bound.
func (v *violations) intRange(path string, n *int, minV, maxV int) {
	if n == nil {
		return
	}
	switch {
	case *n < minV:
		v.add(quote(strconv.Itoa(*n)), path, "Member must have value greater than or equal to "+strconv.Itoa(minV))
	case maxV >= 0 && *n > maxV:
		v.add(quote(strconv.Itoa(*n)), path, "Member must have value less than or equal to "+strconv.Itoa(maxV))
	}
}

func (v *violations) enum(path string, s *string, allowed []string) {
	if s == nil {
		return
	}
	for _, a := range allowed {
		if *s == a {
			return
		}
	}
	v.add(quote(*s), path, "Member must satisfy enum value set: ["+strings.Join(allowed, ", ")+"]")
}

// list checks a string list member's item count and each item's length,
// reporting like AWS does: once, for the whole list.
func (v *violations) list(path string, items []string, maxItems, itemMin, itemMax int) {
	value := quote("[" + strings.Join(items, ", ") + "]")
	if maxItems >= 0 && len(items) > maxItems {
		v.add(value, path, "Member must have length less than or equal to "+strconv.Itoa(maxItems))
		return
	}
	for _, it := range items {
		if n := utf8.RuneCountInString(it); n > itemMax || n < itemMin {
			v.add(value, path, fmt.Sprintf("Member must satisfy constraint: [Member must have length less than or equal to %d, "+
				"Member must have length greater than or equal to %d, Member must satisfy regular expression pattern: .*, Member must not be null]", itemMax, itemMin))
			return
		}
	}
}

func (v violations) err() error {
	switch len(v) {
	case 0:
		return nil
	case 1:
		return &Error{Type: ErrValidation, Message: "1 validation error detected: " + v[0], NoUserType: true}
	default:
		return &Error{Type: ErrValidation, Message: fmt.Sprintf("%d validation errors detected: %s", len(v), strings.Join(v, "; ")), NoUserType: true}
	}
}
