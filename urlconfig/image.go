package urlconfig

import (
	"context"
	"errors"
	"io/fs"
	"math"
	"regexp"
	"strings"
)

// ImageResolver finds a container image in the engine that will run it.
// The Docker sandbox provides one; the store asks it when an Image function
// is created or given new code, as Lambda resolves the image's tag to a
// digest at those times.
type ImageResolver interface {
	// Resolve returns the digest ("sha256:<64 hex>") of the image ref
	// names: a Docker reference, as a function's ImageUri gives it. When
	// the engine has no such image, the error wraps fs.ErrNotExist or has
	// a NotFound() method (as the Docker client's errors do); any other
	// error means the engine could not answer.
	Resolve(ctx context.Context, ref string) (digest string, err error)
}

// Limits of ImageConfig, from the API reference.
const (
	maxImageConfigItems   = 1500
	maxWorkingDirectory   = 1000
	maxImageNameLength    = 255 // Docker's limit on a repository name
	packageTypeImage      = "Image"
	packageTypeZip        = "Zip"
	imageRepositoryType   = "ECR"
	needsDockerMessage    = "furl needs a Docker engine to run container image functions (PackageType Image), and this furl has none: start it with --sandbox docker, or --sandbox auto with a Docker engine running, or create the function with PackageType Zip."
	imageOnlyMessage      = "Please don't provide Handler or Runtime or Layer when the intended function PackageType is Image."
	imageConfigZipMessage = "ImageConfig is only supported for functions with PackageType Image."
)

// The grammar of a Docker image reference: [domain/]path[:tag][@digest].
var (
	refComponent = `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
	refDomain    = `(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?`
	imageRef     = lazyRegexp(`^((?:` + refDomain + `/)?` + refComponent + `(?:/` + refComponent + `)*)` +
		`(?::([\w][\w.-]{0,127}))?` +
		`(?:@([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$`)
	sha256Digest = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// imageRepository is the repository of a Docker image reference: the
// reference without its tag and digest. ok is false when ref is not a
// valid reference.
func imageRepository(ref string) (repo string, ok bool) {
	m := imageRef().FindStringSubmatch(ref)
	if m == nil || len(m[1]) > maxImageNameLength {
		return "", false
	}
	return m[1], true
}

// resolvedImage is an Image function's code: the image as the caller named
// it and as it was resolved.
type resolvedImage struct {
	uri      string // ImageUri as given
	resolved string // <repository>@sha256:<hex>, ResolvedImageUri
	hexSum   string // the digest's hex: CodeSha256
}

// resolveImage checks an ImageUri and finds its digest with the store's
// resolver. Without one, image functions cannot run, and are refused.
func (s *Store) resolveImage(ctx context.Context, uri string) (*resolvedImage, error) {
	repo, ok := imageRepository(uri)
	if !ok {
		return nil, invalidParam("Source image %s is not valid. Provide a valid source image.", uri)
	}
	if s.images == nil {
		return nil, invalidParam("%s", needsDockerMessage)
	}
	digest, err := s.images.Resolve(ctx, uri)
	if err != nil {
		var nf interface{ NotFound() }
		if errors.Is(err, fs.ErrNotExist) || errors.As(err, &nf) {
			return nil, &Error{Type: ErrInvalidParameter, Message: "Source image " + uri + " does not exist. Provide a valid source image.", Err: err}
		}
		return nil, &Error{Type: ErrService, Message: "furl could not look up the image " + uri + " in the Docker engine; check that the engine is running, then try again.", Err: err}
	}
	if !sha256Digest.MatchString(digest) {
		return nil, &Error{Type: ErrService, Message: "furl could not look up the image " + uri + " in the Docker engine.", Err: errors.New("the engine reported digest " + digest + ", not sha256:<64 hex>")}
	}
	hexSum := strings.TrimPrefix(digest, "sha256:")
	return &resolvedImage{uri: uri, resolved: repo + "@" + digest, hexSum: hexSum}, nil
}

// checkImageConfig applies the model's limits on ImageConfig.
func checkImageConfig(v *violations, c *ImageConfig) {
	if c == nil {
		return
	}
	v.list("imageConfig.entryPoint", c.EntryPoint, maxImageConfigItems, 0, math.MaxInt)
	v.list("imageConfig.command", c.Command, maxImageConfigItems, 0, math.MaxInt)
	v.str("imageConfig.workingDirectory", c.WorkingDirectory, 0, maxWorkingDirectory, nil)
}

// imageConfigResponse is what a function reports of the ImageConfig it was
// given: nothing when it overrides nothing, as AWS drops an empty one.
func imageConfigResponse(c *ImageConfig) *ImageConfigResponse {
	if c == nil || (len(c.EntryPoint) == 0 && len(c.Command) == 0 && c.WorkingDirectory == "") {
		return nil
	}
	out := &ImageConfig{WorkingDirectory: c.WorkingDirectory}
	if len(c.EntryPoint) > 0 {
		out.EntryPoint = append([]string(nil), c.EntryPoint...)
	}
	if len(c.Command) > 0 {
		out.Command = append([]string(nil), c.Command...)
	}
	return &ImageConfigResponse{ImageConfig: out}
}

// applyImage gives a configuration an image as its code.
func applyImage(c *storedConfig, img *resolvedImage) {
	c.ImageUri, c.ResolvedImageUri = img.uri, img.resolved
	c.CodeSha256, c.CodeSize = img.hexSum, 0
	c.CodeHash, c.UnzippedSize = "", 0
}

// isImage says whether a configuration is of an Image function.
func (c *storedConfig) isImage() bool { return c.PackageType == packageTypeImage }
