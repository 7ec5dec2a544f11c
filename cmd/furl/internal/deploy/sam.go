package deploy

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// TemplateFiles are the names of a SAM template deploy looks for in a
// folder, in order; SAM's own CLI reads the same two.
var TemplateFiles = []string{"template.yaml", "template.yml"}

// MaxTemplateBytes bounds the template deploy reads: CloudFormation's own
// limit for a template held in S3 is 1 MB.
const MaxTemplateBytes = 1 << 20

// samFunctionType is the resource type deploy makes functions of.
const samFunctionType = "AWS::Serverless::Function"

// ErrTemplate marks a template deploy cannot use.
var ErrTemplate = errors.New("SAM template")

// TemplateFunction is one AWS::Serverless::Function of a template, with
// Globals.Function applied and the intrinsics deploy understands resolved.
type TemplateFunction struct {
	// LogicalID is the resource's key under Resources.
	LogicalID string `json:"logicalId"`
	// CodeURI is the CodeUri property, a folder or zip relative to the
	// template; "" means the template's own folder, as with SAM.
	CodeURI string `json:"codeUri,omitempty"`
	// Config holds what the function and its URL are made of. Its Name
	// is the FunctionName property or, when there is none, the logical
	// id. NoURL is set when there is no FunctionUrlConfig.
	Config Config `json:"config"`
}

// samURLConfig is FunctionUrlConfig.
type samURLConfig struct {
	AuthType   string   `yaml:"AuthType"`
	InvokeMode string   `yaml:"InvokeMode"`
	Cors       *samCors `yaml:"Cors"`
}

// samCors is FunctionUrlConfig.Cors, with CloudFormation's field names.
type samCors struct {
	AllowCredentials *bool    `yaml:"AllowCredentials"`
	AllowHeaders     []string `yaml:"AllowHeaders"`
	AllowMethods     []string `yaml:"AllowMethods"`
	AllowOrigins     []string `yaml:"AllowOrigins"`
	ExposeHeaders    []string `yaml:"ExposeHeaders"`
	MaxAge           *int32   `yaml:"MaxAge"`
}

// samProps are the function properties deploy reads; the rest are
// ignored (with a debug line).
var samProps = []string{"FunctionName", "CodeUri", "Handler", "Runtime", "MemorySize", "Timeout",
	"Environment", "Architectures", "PackageType", "FunctionUrlConfig", "InlineCode", "ImageUri"}

// ParseTemplate reads a SAM template's functions, sorted by logical id.
// Globals.Function gives every function its defaults the way SAM merges
// them: a function's own value replaces a global one, maps (Environment
// variables, FunctionUrlConfig) merge key by key, lists are added to
// (a plain value both hold once), except Architectures, which Lambda allows only one of and so is
// replaced. Of the intrinsic functions only Ref to a template parameter
// with a Default is understood, in the properties deploy reads; any other
// there is an error naming the property. Properties deploy does not use
// are logged at debug level on log and otherwise ignored.
func ParseTemplate(raw []byte, log *slog.Logger) ([]TemplateFunction, error) {
	if len(raw) > MaxTemplateBytes {
		return nil, fmt.Errorf("%w is over %d bytes", ErrTemplate, MaxTemplateBytes)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTemplate, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%w: the top level is not a mapping", ErrTemplate)
	}
	root := doc.Content[0]
	params, err := templateParams(get(root, "Parameters"))
	if err != nil {
		return nil, err
	}
	var globals *yaml.Node
	if g := get(root, "Globals"); g != nil {
		globals = get(deref(g), "Function")
	}
	res := deref(get(root, "Resources"))
	if res == nil || res.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%w has no Resources mapping", ErrTemplate)
	}
	left := maxResolvedNodes
	r := resolver{params: params, left: &left}
	var fns []TemplateFunction
	for i := 0; i+1 < len(res.Content); i += 2 {
		id, body := res.Content[i].Value, deref(res.Content[i+1])
		if body == nil || body.Kind != yaml.MappingNode {
			continue
		}
		if typ := deref(get(body, "Type")); typ == nil || typ.Value != samFunctionType {
			continue
		}
		props := deref(get(body, "Properties"))
		if props != nil && props.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%w: Resources.%s.Properties is not a mapping", ErrTemplate, id)
		}
		if globals != nil {
			props = r.mergeGlobal(deref(globals), props, "")
		}
		fn, err := r.function(id, props, log)
		if err != nil {
			return nil, err
		}
		fns = append(fns, fn)
	}
	if len(fns) == 0 {
		return nil, fmt.Errorf("%w has no resource of type %s", ErrTemplate, samFunctionType)
	}
	slices.SortFunc(fns, func(a, b TemplateFunction) int { return strings.Compare(a.LogicalID, b.LogicalID) })
	for i := 1; i < len(fns); i++ {
		if fns[i].Config.Name == fns[i-1].Config.Name {
			return nil, fmt.Errorf("%w: %s and %s are both named %s", ErrTemplate, fns[i-1].LogicalID, fns[i].LogicalID, fns[i].Config.Name)
		}
	}
	return fns, nil
}

// templateParams maps each parameter to its Default, or to nil when it has
// none.
func templateParams(n *yaml.Node) (map[string]*yaml.Node, error) {
	params := map[string]*yaml.Node{}
	if n = deref(n); n == nil {
		return params, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%w: Parameters is not a mapping", ErrTemplate)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		var def *yaml.Node
		if p := deref(n.Content[i+1]); p != nil && p.Kind == yaml.MappingNode {
			def = deref(get(p, "Default"))
		}
		params[n.Content[i].Value] = def
	}
	return params, nil
}

// get is the value of key in mapping n, or nil.
func get(n *yaml.Node, key string) *yaml.Node {
	if n = deref(n); n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// deref follows aliases (resolve bounds how far they expand).
func deref(n *yaml.Node) *yaml.Node {
	for depth := 0; n != nil && n.Kind == yaml.AliasNode; depth++ {
		if depth > 100 {
			return nil
		}
		n = n.Alias
	}
	return n
}

// mergeGlobal lays a function's properties over Globals.Function's as SAM
// does. The result shares nodes with both; neither is changed.
func (r resolver) mergeGlobal(global, local *yaml.Node, key string) *yaml.Node {
	// Past the budget the merge stops descending; resolve, which visits
	// what it made, reports the template as too large.
	if *r.left--; *r.left < 0 {
		return local
	}
	switch {
	case local == nil:
		return global
	case global == nil || global.Kind != local.Kind || intrinsic(global) || intrinsic(local):
		return local
	case local.Kind == yaml.SequenceNode && key != "Architectures":
		// A plain value both lists hold is kept once: AllowOrigins
		// ["*", "*"] helps no one.
		out := *local
		out.Content = slices.Clip(global.Content)
		for _, n := range local.Content {
			if !slices.ContainsFunc(global.Content, func(g *yaml.Node) bool {
				return g.Kind == yaml.ScalarNode && n.Kind == yaml.ScalarNode && g.Tag == n.Tag && g.Value == n.Value
			}) {
				out.Content = append(out.Content, n)
			}
		}
		return &out
	case local.Kind == yaml.MappingNode:
		out := *local
		out.Content = nil
		for i := 0; i+1 < len(global.Content); i += 2 {
			k := global.Content[i].Value
			v := global.Content[i+1]
			if lv := get(local, k); lv != nil {
				v = r.mergeGlobal(deref(v), deref(lv), k)
			}
			out.Content = append(out.Content, global.Content[i], v)
		}
		for i := 0; i+1 < len(local.Content); i += 2 {
			if get(global, local.Content[i].Value) == nil {
				out.Content = append(out.Content, local.Content[i], local.Content[i+1])
			}
		}
		return &out
	}
	return local
}

// intrinsic reports whether n is an intrinsic function call, in its short
// (!Ref) or long ({"Ref": ...}, {"Fn::Sub": ...}) form.
func intrinsic(n *yaml.Node) bool {
	return intrinsicName(n) != ""
}

func intrinsicName(n *yaml.Node) string {
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return n.Tag
	}
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 {
		if k := n.Content[0].Value; k == "Ref" || strings.HasPrefix(k, "Fn::") {
			return k
		}
	}
	return ""
}

// resolver resolves the intrinsics deploy understands.
type resolver struct {
	params map[string]*yaml.Node
	// left is how many more nodes resolve may visit in this template. A
	// YAML alias may name a node that names others, so a small template
	// can stand for billions of nodes: yaml.v3 bounds aliases only when it
	// decodes into Go values, not in the yaml.Node tree resolve walks.
	left *int
}

// maxResolvedNodes bounds the nodes resolve visits in one template: far
// more than any hand-written template holds, far fewer than an alias
// bomb expands to.
const maxResolvedNodes = 200_000

// resolve returns n with each Ref to a parameter replaced by the
// parameter's Default; path names n in errors.
func (r resolver) resolve(n *yaml.Node, path string) (*yaml.Node, error) {
	if n = deref(n); n == nil {
		return nil, nil
	}
	if *r.left--; *r.left < 0 {
		return nil, fmt.Errorf("%w: %s: the template expands past %d YAML nodes (aliases that name aliases?)", ErrTemplate, path, maxResolvedNodes)
	}
	switch name := intrinsicName(n); name {
	case "":
	case "!Ref", "Ref":
		arg := n
		if name == "Ref" {
			arg = deref(n.Content[1])
		}
		if arg == nil || arg.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("%w: %s: Ref takes a parameter's name", ErrTemplate, path)
		}
		def, ok := r.params[arg.Value]
		switch {
		case !ok:
			return nil, fmt.Errorf("%w: %s: Ref %s: furl deploy resolves Ref only to the template's Parameters, and %s is none of them", ErrTemplate, path, arg.Value, arg.Value)
		case def == nil:
			return nil, fmt.Errorf("%w: %s: Ref %s: the parameter has no Default for furl deploy to use", ErrTemplate, path, arg.Value)
		case def.Kind != yaml.ScalarNode:
			return nil, fmt.Errorf("%w: %s: Ref %s: the parameter's Default is not a plain value", ErrTemplate, path, arg.Value)
		}
		return def, nil
	default:
		return nil, fmt.Errorf("%w: %s: furl deploy does not evaluate %s (only Ref to a parameter with a Default); give a plain value", ErrTemplate, path, strings.TrimPrefix(name, "!"))
	}
	if n.Kind != yaml.MappingNode && n.Kind != yaml.SequenceNode {
		return n, nil
	}
	out := *n
	out.Content = make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		p := fmt.Sprintf("%s[%d]", path, i)
		if n.Kind == yaml.MappingNode {
			if i%2 == 0 {
				out.Content[i] = c
				continue
			}
			p = path + "." + n.Content[i-1].Value
		}
		v, err := r.resolve(c, p)
		if err != nil {
			return nil, err
		}
		if v == nil {
			v = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: ""}
		}
		out.Content[i] = v
	}
	return &out, nil
}

// decode resolves property key of props into v.
func (r resolver) decode(props *yaml.Node, key, path string, v any) (bool, error) {
	n := get(props, key)
	if n == nil {
		return false, nil
	}
	path += "." + key
	n, err := r.resolve(n, path)
	if err != nil {
		return false, err
	}
	if err := n.Decode(v); err != nil {
		return false, fmt.Errorf("%w: %s: %w", ErrTemplate, path, err)
	}
	return true, nil
}

// function reads one function's (merged) properties.
func (r resolver) function(id string, props *yaml.Node, log *slog.Logger) (TemplateFunction, error) {
	path := "Resources." + id + ".Properties"
	fn := TemplateFunction{LogicalID: id, Config: Config{Name: id, NoURL: true}}
	if get(props, "FunctionName") == nil && SanitizeName(id) != id {
		return fn, fmt.Errorf("%w: Resources.%s: the logical id is not a Lambda function name: give a FunctionName", ErrTemplate, id)
	}
	if props == nil {
		return fn, nil
	}
	for i := 0; i+1 < len(props.Content); i += 2 {
		if k := props.Content[i].Value; !slices.Contains(samProps, k) {
			log.Debug("furl deploy ignores a function property", "property", path+"."+k)
		}
	}
	var (
		name, pkgType string
		codeURI       *yaml.Node
		env           struct {
			Variables map[string]string `yaml:"Variables"`
		}
		url *samURLConfig
	)
	c := &fn.Config
	for _, d := range []struct {
		key string
		v   any
	}{
		{"FunctionName", &name}, {"Handler", &c.Handler}, {"Runtime", &c.Runtime},
		{"MemorySize", &c.MemorySize}, {"Timeout", &c.Timeout}, {"Architectures", &c.Architectures},
		{"PackageType", &pkgType}, {"Environment", &env}, {"FunctionUrlConfig", &url},
	} {
		if _, err := r.decode(props, d.key, path, d.v); err != nil {
			return fn, err
		}
	}
	if name != "" {
		c.Name = name
	}
	if SanitizeName(c.Name) != c.Name || c.Name == "" {
		return fn, fmt.Errorf("%w: %s: %q is not a Lambda function name (letters, digits, - and _, at most %d)", ErrTemplate, path+".FunctionName", c.Name, maxNameLen)
	}
	if pkgType != "" && pkgType != "Zip" {
		return fn, fmt.Errorf("%w: %s.PackageType: furl deploy makes Zip functions only, not %s", ErrTemplate, path, pkgType)
	}
	for _, k := range []string{"InlineCode", "ImageUri"} {
		if get(props, k) != nil {
			return fn, fmt.Errorf("%w: %s.%s: furl deploy takes code from CodeUri only", ErrTemplate, path, k)
		}
	}
	if env.Variables != nil {
		c.Env = env.Variables
	}
	if codeURI = get(props, "CodeUri"); codeURI != nil {
		n, err := r.resolve(codeURI, path+".CodeUri")
		if err != nil {
			return fn, err
		}
		if n.Kind != yaml.ScalarNode {
			return fn, fmt.Errorf("%w: %s.CodeUri: furl deploy takes a local folder or zip, not an S3 location", ErrTemplate, path)
		}
		if strings.HasPrefix(n.Value, "s3://") {
			return fn, fmt.Errorf("%w: %s.CodeUri: furl deploy takes a local folder or zip, not %s", ErrTemplate, path, n.Value)
		}
		fn.CodeURI = n.Value
	}
	if url != nil {
		c.NoURL = false
		c.Auth = url.AuthType
		switch url.InvokeMode {
		case "", "BUFFERED":
		case "RESPONSE_STREAM":
			c.Stream = true
		default:
			return fn, fmt.Errorf("%w: %s.FunctionUrlConfig.InvokeMode: %q is not BUFFERED or RESPONSE_STREAM", ErrTemplate, path, url.InvokeMode)
		}
		if cs := url.Cors; cs != nil {
			c.CORS = &CORS{AllowCredentials: cs.AllowCredentials, AllowHeaders: cs.AllowHeaders, AllowMethods: cs.AllowMethods,
				AllowOrigins: cs.AllowOrigins, ExposeHeaders: cs.ExposeHeaders, MaxAge: cs.MaxAge}
			c.CORSOrigins = cs.AllowOrigins
		}
	}
	return fn, nil
}
