package urlconfig

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// lastModifiedLayout is how AWS writes FunctionConfiguration.LastModified.
const lastModifiedLayout = "2006-01-02T15:04:05.000-0700"

// The reason AWS gives while a function is being set up, for creates and
// updates alike.
const (
	creatingReason = "The function is being created."
	creatingCode   = "Creating"
)

// CreateFunctionInput is CreateFunction's request.
type CreateFunctionInput struct {
	FunctionName         *string            `json:"FunctionName"`
	Runtime              *string            `json:"Runtime"`
	Role                 *string            `json:"Role"`
	Handler              *string            `json:"Handler"`
	Code                 *FunctionCode      `json:"Code"`
	Description          *string            `json:"Description"`
	Timeout              *int               `json:"Timeout"`
	MemorySize           *int               `json:"MemorySize"`
	Publish              bool               `json:"Publish"`
	VpcConfig            *VpcConfig         `json:"VpcConfig"`
	PackageType          *string            `json:"PackageType"`
	DeadLetterConfig     *DeadLetterConfig  `json:"DeadLetterConfig"`
	Environment          *Environment       `json:"Environment"`
	KMSKeyArn            *string            `json:"KMSKeyArn"`
	TracingConfig        *TracingConfig     `json:"TracingConfig"`
	Tags                 map[string]string  `json:"Tags"`
	Layers               []string           `json:"Layers"`
	FileSystemConfigs    []FileSystemConfig `json:"FileSystemConfigs"`
	ImageConfig          *ImageConfig       `json:"ImageConfig"`
	CodeSigningConfigArn *string            `json:"CodeSigningConfigArn"`
	Architectures        []string           `json:"Architectures"`
	EphemeralStorage     *EphemeralStorage  `json:"EphemeralStorage"`
	SnapStart            *SnapStart         `json:"SnapStart"`
	LoggingConfig        *LoggingConfig     `json:"LoggingConfig"`
}

// UpdateFunctionConfigurationInput is UpdateFunctionConfiguration's
// request; FunctionName comes from the path.
type UpdateFunctionConfigurationInput struct {
	FunctionName      string             `json:"-"`
	Role              *string            `json:"Role"`
	Handler           *string            `json:"Handler"`
	Description       *string            `json:"Description"`
	Timeout           *int               `json:"Timeout"`
	MemorySize        *int               `json:"MemorySize"`
	VpcConfig         *VpcConfig         `json:"VpcConfig"`
	Environment       *Environment       `json:"Environment"`
	Runtime           *string            `json:"Runtime"`
	DeadLetterConfig  *DeadLetterConfig  `json:"DeadLetterConfig"`
	KMSKeyArn         *string            `json:"KMSKeyArn"`
	TracingConfig     *TracingConfig     `json:"TracingConfig"`
	RevisionId        *string            `json:"RevisionId"`
	Layers            []string           `json:"Layers"`
	FileSystemConfigs []FileSystemConfig `json:"FileSystemConfigs"`
	ImageConfig       *ImageConfig       `json:"ImageConfig"`
	EphemeralStorage  *EphemeralStorage  `json:"EphemeralStorage"`
	SnapStart         *SnapStart         `json:"SnapStart"`
	LoggingConfig     *LoggingConfig     `json:"LoggingConfig"`
}

// UpdateFunctionCodeInput is UpdateFunctionCode's request; FunctionName
// comes from the path.
type UpdateFunctionCodeInput struct {
	FunctionName    string   `json:"-"`
	ZipFile         []byte   `json:"ZipFile"`
	S3Bucket        *string  `json:"S3Bucket"`
	S3Key           *string  `json:"S3Key"`
	S3ObjectVersion *string  `json:"S3ObjectVersion"`
	ImageUri        *string  `json:"ImageUri"`
	Publish         bool     `json:"Publish"`
	DryRun          bool     `json:"DryRun"`
	RevisionId      *string  `json:"RevisionId"`
	Architectures   []string `json:"Architectures"`
	SourceKMSKeyArn *string  `json:"SourceKMSKeyArn"`

	// Upload, when set, is the zip the gateway received for ZipFile and
	// takes its place. The caller closes it.
	Upload *CodeUpload `json:"-"`
}

// CreateFunction creates a function from a zip archive or, with
// PackageType Image, from a container image, and publishes version 1 of it
// when asked.
func (s *Store) CreateFunction(ctx context.Context, in *CreateFunctionInput) (*FunctionConfiguration, error) {
	var v violations
	if in.FunctionName == nil {
		v.required("functionName")
	} else {
		v.str("functionName", *in.FunctionName, 1, 140, &patFunctionName)
	}
	if in.Role == nil {
		v.required("role")
	}
	if in.Code == nil {
		v.required("code")
	}
	configChecks{
		Role: in.Role, Handler: in.Handler, Description: in.Description, Timeout: in.Timeout,
		MemorySize: in.MemorySize, KMSKeyArn: in.KMSKeyArn, TracingConfig: in.TracingConfig,
		EphemeralStorage: in.EphemeralStorage, LoggingConfig: in.LoggingConfig, SnapStart: in.SnapStart,
		DeadLetterConfig: in.DeadLetterConfig, Layers: in.Layers, FileSystems: in.FileSystemConfigs,
		VpcConfig: in.VpcConfig, ImageConfig: in.ImageConfig,
	}.check(&v)
	v.enum("packageType", in.PackageType, packageTypes)
	checkArchitectures(&v, in.Architectures)
	if in.Code != nil {
		v.optStr("code.s3Bucket", in.Code.S3Bucket, 3, 63, &patS3Bucket)
		v.optStr("code.s3Key", in.Code.S3Key, 1, 1024, nil)
		v.optStr("code.s3ObjectVersion", in.Code.S3ObjectVersion, 1, 1024, nil)
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	ref, err := s.account.parseFunctionName(*in.FunctionName, patFunctionName, 140)
	if err != nil {
		if e, ok := AsError(err); ok && e.Type == ErrValidation {
			// AWS reports a create's over-long name as an invalid parameter.
			return nil, &Error{Type: ErrInvalidParameter, Message: e.Message}
		}
		return nil, err
	}
	if ref.Qualifier != "" {
		return nil, invalidParam("Function names cannot carry a qualifier on creation: %s", *in.FunctionName)
	}
	if in.CodeSigningConfigArn != nil {
		return nil, invalidParam("furl does not support code signing configurations.")
	}
	image := in.PackageType != nil && *in.PackageType == packageTypeImage
	var zipSrc zipSource
	var hotDir string
	if image {
		if err := checkImageCode(in); err != nil {
			return nil, err
		}
	} else {
		if imageConfigResponse(in.ImageConfig) != nil {
			return nil, invalidParam("%s", imageConfigZipMessage)
		}
		if in.Runtime != nil {
			if err := checkRuntime(*in.Runtime); err != nil {
				return nil, err
			}
		}
		if err := checkZipRuntime(deref(in.Runtime), deref(in.Handler)); err != nil {
			return nil, err
		}
		zipGiven := in.Code.Upload != nil || in.Code.ZipFile != nil
		if hotDir, err = s.hotReloadDir(in.Code.S3Bucket, in.Code.S3Key, in.Code.S3ObjectVersion, zipGiven || in.Code.ImageUri != nil); err != nil {
			return nil, err
		}
		if hotDir == "" {
			if zipSrc, err = zipFromCode(zipSource{upload: in.Code.Upload, bytes: in.Code.ZipFile}, in.Code.S3Bucket, in.Code.S3Key, in.Code.ImageUri); err != nil {
				return nil, err
			}
		}
	}
	if err := checkLimits(in.Timeout, in.MemorySize, in.EphemeralStorage); err != nil {
		return nil, err
	}
	if err := checkEnvironment(in.Environment); err != nil {
		return nil, err
	}
	if err := checkRunnable(in.Handler, in.Environment); err != nil {
		return nil, err
	}
	if err := checkTags(nil, in.Tags); err != nil {
		return nil, err
	}
	var archive *codeArchive
	var img *resolvedImage
	if image {
		if img, err = s.resolveImage(ctx, *in.Code.ImageUri); err != nil {
			return nil, err
		}
	} else if hotDir == "" {
		if archive, err = s.code.stage(zipSrc); err != nil {
			return nil, err
		}
		defer s.code.discard(archive)
	}

	now := s.now()
	name := ref.Name
	cfg := &storedConfig{
		FunctionConfiguration: FunctionConfiguration{
			FunctionName:      name,
			FunctionArn:       s.account.FunctionARN(name),
			Runtime:           deref(in.Runtime),
			Role:              *in.Role,
			Handler:           deref(in.Handler),
			Description:       deref(in.Description),
			Timeout:           derefOr(in.Timeout, defaultTimeout),
			MemorySize:        derefOr(in.MemorySize, defaultMemorySize),
			LastModified:      now.UTC().Format(lastModifiedLayout),
			Version:           LatestVersion,
			VpcConfig:         vpcResponse(in.VpcConfig),
			Environment:       environmentResponse(in.Environment),
			KMSKeyArn:         deref(in.KMSKeyArn),
			TracingConfig:     &TracingConfig{Mode: "PassThrough"},
			RevisionId:        newRevisionID(),
			State:             "Active",
			LastUpdateStatus:  "Successful",
			FileSystemConfigs: in.FileSystemConfigs,
			PackageType:       "Zip",
			Architectures:     []string{"x86_64"},
			EphemeralStorage:  &EphemeralStorage{Size: ptr(defaultEphemeralStorage)},
			SnapStart:         &SnapStartResponse{ApplyOn: "None", OptimizationStatus: "Off"},
			LoggingConfig:     &LoggingConfig{LogFormat: "Text", LogGroup: "/aws/lambda/" + name},
		},
	}
	if image {
		cfg.PackageType = packageTypeImage
		cfg.ImageConfigResponse = imageConfigResponse(in.ImageConfig)
		applyImage(cfg, img)
	} else {
		if hotDir != "" {
			applyHotReload(cfg, hotDir)
		} else {
			cfg.CodeSize, cfg.CodeSha256 = archive.size, archive.b64Sum
			cfg.CodeHash, cfg.UnzippedSize = archive.hexSum, archive.unzipped
		}
		// Runtime management applies to AWS's managed runtimes, not to
		// a function's own image.
		cfg.RuntimeVersionConfig = s.runtimeVersion(cfg.Runtime)
	}
	if in.DeadLetterConfig != nil && in.DeadLetterConfig.TargetArn != "" {
		cfg.DeadLetterConfig = &DeadLetterConfig{TargetArn: in.DeadLetterConfig.TargetArn}
	}
	if in.TracingConfig != nil && in.TracingConfig.Mode != "" {
		cfg.TracingConfig = &TracingConfig{Mode: in.TracingConfig.Mode}
	}
	if len(in.Architectures) == 1 {
		cfg.Architectures = []string{in.Architectures[0]}
	}
	if in.EphemeralStorage != nil {
		cfg.EphemeralStorage = &EphemeralStorage{Size: ptr(*in.EphemeralStorage.Size)}
	}
	if in.SnapStart != nil && in.SnapStart.ApplyOn != "" {
		cfg.SnapStart.ApplyOn = in.SnapStart.ApplyOn
	}
	applyLogging(cfg, in.LoggingConfig)

	var out *storedConfig
	err = s.update(func(t *txn) error {
		fns := t.Bucket(bucketFunctions)
		if fns.Bucket([]byte(name)) != nil {
			return conflict("Function already exist: %s", name)
		}
		b, err := fns.CreateBucket([]byte(name))
		if err != nil {
			return err
		}
		for _, sub := range [][]byte{bucketVersions, bucketAliases, bucketURLs, bucketPolicies} {
			if _, err := b.CreateBucket(sub); err != nil {
				return err
			}
		}
		f := &fnBucket{name: name, b: b, rec: functionRecord{Name: name, Created: now.UTC()}}
		if len(in.Tags) > 0 {
			f.rec.Tags = in.Tags
		}
		if archive != nil {
			if err := t.refCode(archive); err != nil {
				return err
			}
		}
		if err := s.functionLayers(t.Tx, cfg, in.Layers); err != nil {
			return err
		}
		if err := t.refLayers(cfg, 1); err != nil {
			return err
		}
		if err := f.putLatest(cfg); err != nil {
			return err
		}
		out = cfg
		if in.Publish {
			if out, _, err = s.publish(t, f, cfg, nil); err != nil {
				return err
			}
		}
		return f.saveRecord()
	})
	if err != nil {
		return nil, err
	}
	s.warnUnsupported(name, in.FileSystemConfigs, in.VpcConfig)
	resp := out.FunctionConfiguration
	// AWS answers a create before the function is set up; furl has finished
	// by now, so only this answer shows the pending state. Even a create
	// that publishes answers with the unqualified ARN.
	resp.FunctionArn = s.account.FunctionARN(name)
	resp.State, resp.StateReason, resp.StateReasonCode = "Pending", creatingReason, creatingCode
	resp.LastUpdateStatus = ""
	return &resp, nil
}

// GetFunction returns a version's configuration, the function's tags and
// reserved concurrency, and the SHA-256 (hex) of its zip, from which the
// caller builds Code.Location; an Image function has no zip, and its Code
// names the image.
func (s *Store) GetFunction(ctx context.Context, functionName string, qualifier *string) (*GetFunctionOutput, string, error) {
	ref, err := s.lookupRef(functionName, qualifier)
	if err != nil {
		return nil, "", err
	}
	var out GetFunctionOutput
	var hash string
	err = s.view(func(tx *bolt.Tx) error {
		f, err := s.openFunction(tx, ref.Name)
		if err != nil {
			return notFoundWithQualifier(err, s.account.QualifiedARN(ref.Name, ref.Qualifier))
		}
		r, err := f.lookup(ref.Qualifier, func() error { return functionNotFound(s.account.QualifiedARN(ref.Name, ref.Qualifier)) })
		if err != nil {
			return err
		}
		cfg := r.config.FunctionConfiguration
		if ref.Qualifier != "" {
			cfg.FunctionArn = s.account.QualifiedARN(ref.Name, ref.Qualifier)
		}
		out.Configuration = &cfg
		switch {
		case r.config.isImage():
			out.Code = &FunctionCodeLocation{RepositoryType: imageRepositoryType, ImageUri: r.config.ImageUri, ResolvedImageUri: r.config.ResolvedImageUri}
		case r.config.isHotReload():
			// No package to download: Location is the folder, as a
			// file URL, which is where the code is.
			out.Code = &FunctionCodeLocation{RepositoryType: "S3", Location: (&url.URL{Scheme: "file", Path: r.config.HotReloadDir}).String()}
		default:
			out.Code = &FunctionCodeLocation{RepositoryType: "S3"}
			hash = r.config.CodeHash
		}
		if len(f.rec.Tags) > 0 {
			out.Tags = f.rec.Tags
		}
		if f.rec.ReservedConcurrency != nil {
			out.Concurrency = &Concurrency{ReservedConcurrentExecutions: ptr(*f.rec.ReservedConcurrency)}
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return &out, hash, nil
}

// GetFunctionConfiguration returns one version's configuration.
func (s *Store) GetFunctionConfiguration(ctx context.Context, functionName string, qualifier *string) (*FunctionConfiguration, error) {
	out, _, err := s.GetFunction(ctx, functionName, qualifier)
	if err != nil {
		return nil, err
	}
	return out.Configuration, nil
}

// lookupRef resolves the FunctionName and Qualifier of a read or delete.
// An over-long plain name is a function that does not exist, as AWS
// answers it.
func (s *Store) lookupRef(functionName string, qualifier *string) (funcRef, error) {
	ref, err := s.resolveName(functionName, qualifier, anyVersion, nil)
	if e, ok := AsError(err); ok && e.Type == ErrValidation && overlongName(functionName) {
		return funcRef{}, functionNotFound(s.account.FunctionARN(functionName))
	}
	return ref, err
}

// notFoundWithQualifier rewrites a function-not-found error to name the
// qualified ARN the caller asked for.
func notFoundWithQualifier(err error, arn string) error {
	if e, ok := AsError(err); ok && e.Type == ErrNotFound {
		return functionNotFound(arn)
	}
	return err
}

// UpdateFunctionConfiguration changes $LATEST's settings.
func (s *Store) UpdateFunctionConfiguration(ctx context.Context, in *UpdateFunctionConfigurationInput) (*FunctionConfiguration, error) {
	ref, err := s.resolveName(in.FunctionName, nil, wholeFunction, configChecks{
		Role: in.Role, Handler: in.Handler, Description: in.Description, Timeout: in.Timeout,
		MemorySize: in.MemorySize, KMSKeyArn: in.KMSKeyArn, TracingConfig: in.TracingConfig,
		EphemeralStorage: in.EphemeralStorage, LoggingConfig: in.LoggingConfig, SnapStart: in.SnapStart,
		DeadLetterConfig: in.DeadLetterConfig, Layers: in.Layers, FileSystems: in.FileSystemConfigs,
		VpcConfig: in.VpcConfig, ImageConfig: in.ImageConfig,
	}.check)
	if err != nil {
		return nil, err
	}
	if in.Runtime != nil {
		if err := checkRuntime(*in.Runtime); err != nil {
			return nil, err
		}
	}
	if err := checkLimits(in.Timeout, in.MemorySize, in.EphemeralStorage); err != nil {
		return nil, err
	}
	if err := checkEnvironment(in.Environment); err != nil {
		return nil, err
	}
	if err := checkRunnable(in.Handler, in.Environment); err != nil {
		return nil, err
	}
	var out FunctionConfiguration
	err = s.update(func(t *txn) error {
		f, c, err := s.latestAt(t.Tx, ref.Name, in.RevisionId)
		if err != nil {
			return err
		}
		if c.isImage() {
			if in.Runtime != nil || in.Handler != nil || len(in.Layers) > 0 {
				return invalidParam("%s", imageOnlyMessage)
			}
			if in.ImageConfig != nil {
				// A new ImageConfig replaces the old one whole; an
				// empty one removes it.
				c.ImageConfigResponse = imageConfigResponse(in.ImageConfig)
			}
		} else {
			if imageConfigResponse(in.ImageConfig) != nil {
				return invalidParam("%s", imageConfigZipMessage)
			}
			if in.Runtime != nil {
				c.Runtime = *in.Runtime
			}
			if in.Handler != nil {
				c.Handler = *in.Handler
			}
			if err := checkZipRuntime(c.Runtime, c.Handler); err != nil {
				return err
			}
			c.RuntimeVersionConfig = s.runtimeVersion(c.Runtime)
		}
		if in.Role != nil {
			c.Role = *in.Role
		}
		if in.Description != nil {
			c.Description = *in.Description
		}
		if in.Timeout != nil {
			c.Timeout = *in.Timeout
		}
		if in.MemorySize != nil {
			c.MemorySize = *in.MemorySize
		}
		if in.VpcConfig != nil {
			c.VpcConfig = vpcResponse(in.VpcConfig)
		}
		if in.Environment != nil {
			c.Environment = environmentResponse(in.Environment)
		}
		if in.DeadLetterConfig != nil {
			c.DeadLetterConfig = nil
			if in.DeadLetterConfig.TargetArn != "" {
				c.DeadLetterConfig = &DeadLetterConfig{TargetArn: in.DeadLetterConfig.TargetArn}
			}
		}
		if in.KMSKeyArn != nil {
			c.KMSKeyArn = *in.KMSKeyArn
		}
		if in.TracingConfig != nil && in.TracingConfig.Mode != "" {
			c.TracingConfig = &TracingConfig{Mode: in.TracingConfig.Mode}
		}
		if in.Layers != nil {
			// The new list replaces the old whole; an empty one removes
			// the layers. References to the new are added before those
			// to the old are dropped, so that content both use stays.
			before := *c
			if err := s.functionLayers(t.Tx, c, in.Layers); err != nil {
				return err
			}
			if err := t.refLayers(c, 1); err != nil {
				return err
			}
			if err := t.refLayers(&before, -1); err != nil {
				return err
			}
		}
		if in.FileSystemConfigs != nil {
			c.FileSystemConfigs = in.FileSystemConfigs
			if len(c.FileSystemConfigs) == 0 {
				c.FileSystemConfigs = nil
			}
		}
		if in.EphemeralStorage != nil {
			c.EphemeralStorage = &EphemeralStorage{Size: ptr(*in.EphemeralStorage.Size)}
		}
		if in.SnapStart != nil && in.SnapStart.ApplyOn != "" {
			c.SnapStart.ApplyOn = in.SnapStart.ApplyOn
		}
		applyLogging(c, in.LoggingConfig)
		s.touch(c)
		if err := f.putLatest(c); err != nil {
			return err
		}
		out = c.FunctionConfiguration
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.warnUnsupported(ref.Name, in.FileSystemConfigs, in.VpcConfig)
	return updating(out), nil
}

// UpdateFunctionCode replaces $LATEST's code, and publishes a version when
// asked: a zip for a Zip function, an ImageUri for an Image function (a
// function's package type never changes). With DryRun it validates and
// answers without storing anything.
func (s *Store) UpdateFunctionCode(ctx context.Context, in *UpdateFunctionCodeInput) (*FunctionConfiguration, error) {
	ref, err := s.resolveName(in.FunctionName, nil, wholeFunction, func(v *violations) {
		v.optStr("s3Bucket", in.S3Bucket, 3, 63, &patS3Bucket)
		v.optStr("s3Key", in.S3Key, 1, 1024, nil)
		v.optStr("s3ObjectVersion", in.S3ObjectVersion, 1, 1024, nil)
		checkArchitectures(v, in.Architectures)
	})
	if err != nil {
		return nil, err
	}
	// The package type decides what code is acceptable; reading it first
	// keeps the Docker engine out of the write transaction.
	var packageType string
	err = s.view(func(tx *bolt.Tx) error {
		_, c, err := s.latestAt(tx, ref.Name, in.RevisionId)
		if err != nil {
			return err
		}
		packageType = c.PackageType
		return nil
	})
	if err != nil {
		return nil, err
	}
	var archive *codeArchive
	var img *resolvedImage
	var hotDir string
	if packageType == packageTypeImage {
		zipGiven := in.ZipFile != nil || in.Upload != nil || in.S3Bucket != nil || in.S3Key != nil || in.S3ObjectVersion != nil
		if zipGiven || in.ImageUri == nil || *in.ImageUri == "" {
			return nil, invalidParam("Please provide ImageUri when updating a function with packageType Image.")
		}
		if img, err = s.resolveImage(ctx, *in.ImageUri); err != nil {
			return nil, err
		}
	} else {
		if in.ImageUri != nil {
			return nil, invalidParam("Please don't provide ImageUri when updating a function with packageType Zip.")
		}
		if hotDir, err = s.hotReloadDir(in.S3Bucket, in.S3Key, in.S3ObjectVersion, in.Upload != nil || in.ZipFile != nil); err != nil {
			return nil, err
		}
		if hotDir == "" {
			zipSrc, err := zipFromCode(zipSource{upload: in.Upload, bytes: in.ZipFile}, in.S3Bucket, in.S3Key, nil)
			if err != nil {
				return nil, err
			}
			if archive, err = s.code.stage(zipSrc); err != nil {
				return nil, err
			}
			defer s.code.discard(archive)
		}
	}

	apply := func(c *storedConfig) {
		switch {
		case img != nil:
			applyImage(c, img)
		case hotDir != "":
			applyHotReload(c, hotDir)
		default:
			c.HotReloadDir = ""
			c.CodeSize, c.CodeSha256 = archive.size, archive.b64Sum
			c.CodeHash, c.UnzippedSize = archive.hexSum, archive.unzipped
		}
		if len(in.Architectures) == 1 {
			c.Architectures = []string{in.Architectures[0]}
		}
		s.touch(c)
	}
	// latest reads $LATEST again, now that the code is ready, and refuses
	// the update if the function was replaced by one of another package
	// type meanwhile.
	latest := func(tx *bolt.Tx) (*fnBucket, *storedConfig, error) {
		f, c, err := s.latestAt(tx, ref.Name, in.RevisionId)
		if err != nil {
			return nil, nil, err
		}
		if c.PackageType != packageType {
			return nil, nil, conflict("The operation cannot be performed at this time. An update is in progress for resource: %s", s.account.FunctionARN(ref.Name))
		}
		return f, c, nil
	}
	if in.DryRun {
		var out FunctionConfiguration
		err := s.view(func(tx *bolt.Tx) error {
			_, c, err := latest(tx)
			if err != nil {
				return err
			}
			apply(c)
			out = c.FunctionConfiguration
			return nil
		})
		if err != nil {
			return nil, err
		}
		return updating(out), nil
	}
	var out *storedConfig
	published := false
	err = s.update(func(t *txn) error {
		f, c, err := latest(t.Tx)
		if err != nil {
			return err
		}
		if archive != nil {
			if err := checkCombinedSize(archive.unzipped, c.LayersUnzippedSize); err != nil {
				return err
			}
			if err := t.refCode(archive); err != nil {
				return err
			}
		}
		if err := t.dropCodeRef(c.CodeHash); err != nil {
			return err
		}
		apply(c)
		if err := f.putLatest(c); err != nil {
			return err
		}
		out = c
		if in.Publish {
			if out, published, err = s.publish(t, f, c, nil); err != nil {
				return err
			}
			return f.saveRecord()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if in.Publish && published {
		// A new version is answered as still being set up.
		resp := out.FunctionConfiguration
		resp.State, resp.StateReason, resp.StateReasonCode = "Pending", creatingReason, creatingCode
		resp.LastUpdateStatus = ""
		return &resp, nil
	}
	return updating(out.FunctionConfiguration), nil
}

// latestAt reads a function's $LATEST, refusing the change when the
// caller's RevisionId (if any) is not the current one.
func (s *Store) latestAt(tx *bolt.Tx, name string, revisionID *string) (*fnBucket, *storedConfig, error) {
	f, err := s.openFunction(tx, name)
	if err != nil {
		return nil, nil, err
	}
	c, err := f.latest()
	if err != nil {
		return nil, nil, err
	}
	if revisionID != nil && *revisionID != c.RevisionId {
		return nil, nil, revisionMismatch()
	}
	return f, c, nil
}

// updating is how AWS answers an accepted update: the update is reported as
// in progress. furl has applied it already; later reads say Successful.
func updating(c FunctionConfiguration) *FunctionConfiguration {
	c.State = "Active"
	c.LastUpdateStatus, c.LastUpdateStatusReason, c.LastUpdateStatusReasonCode = "InProgress", creatingReason, creatingCode
	return &c
}

// listed is how list operations show a version: without its state and
// runtime version.
func listed(c FunctionConfiguration) *FunctionConfiguration {
	c.State, c.StateReason, c.StateReasonCode = "", "", ""
	c.LastUpdateStatus, c.LastUpdateStatusReason, c.LastUpdateStatusReasonCode = "", "", ""
	c.RuntimeVersionConfig = nil
	return &c
}

// touch marks $LATEST as changed now, with a new revision.
func (s *Store) touch(c *storedConfig) {
	c.LastModified = s.now().UTC().Format(lastModifiedLayout)
	c.RevisionId = newRevisionID()
	c.State, c.LastUpdateStatus = "Active", "Successful"
}

// DeleteFunction deletes a function with everything it owns or, given a
// version number, only that version. It returns the function's name.
func (s *Store) DeleteFunction(ctx context.Context, functionName string, qualifier *string) (string, error) {
	ref, err := s.lookupRef(functionName, qualifier)
	if err != nil {
		return "", err
	}
	switch q := ref.Qualifier; {
	case q == LatestVersion:
		return "", invalidParam("$LATEST version cannot be deleted without deleting the function.")
	case q != "" && !allDigits.MatchString(q):
		return "", invalidParam("Deletion of aliases is not currently supported.")
	}
	return ref.Name, s.update(func(t *txn) error {
		f, err := s.openFunction(t.Tx, ref.Name)
		if err != nil {
			return err
		}
		if ref.Qualifier == "" {
			return s.deleteWholeFunction(t, f)
		}
		return s.deleteVersion(t, f, ref.Qualifier)
	})
}

func (s *Store) deleteWholeFunction(t *txn, f *fnBucket) error {
	c, err := f.latest()
	if err != nil {
		return err
	}
	if err := t.dropCodeRef(c.CodeHash); err != nil {
		return err
	}
	if err := t.refLayers(c, -1); err != nil {
		return err
	}
	vs, err := f.versions()
	if err != nil {
		return err
	}
	for _, v := range vs {
		if err := t.dropCodeRef(v.CodeHash); err != nil {
			return err
		}
		if err := t.refLayers(v, -1); err != nil {
			return err
		}
	}
	ids := t.Bucket(bucketURLIDs)
	if err := f.b.Bucket(bucketURLs).ForEach(func(k, _ []byte) error {
		var u storedURL
		if _, err := getJSON(f.b.Bucket(bucketURLs), k, &u); err != nil {
			return err
		}
		return ids.Delete([]byte(u.URLID))
	}); err != nil {
		return err
	}
	return t.Bucket(bucketFunctions).DeleteBucket([]byte(f.name))
}

func (s *Store) deleteVersion(t *txn, f *fnBucket, q string) error {
	n, ok := parseVersion(q)
	if !ok {
		return nil
	}
	c, ok, err := f.version(n)
	if err != nil {
		return err
	}
	if !ok {
		// AWS answers the delete of a missing version with success.
		return nil
	}
	users, err := f.aliasesUsing(q)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return conflict("Unable to delete version because the following aliases reference it: [%s]", strings.Join(users, ", "))
	}
	if err := t.dropCodeRef(c.CodeHash); err != nil {
		return err
	}
	if err := t.refLayers(c, -1); err != nil {
		return err
	}
	if err := f.b.Bucket(bucketPolicies).Delete([]byte(q)); err != nil {
		return err
	}
	if err := f.deleteEventConfig(q); err != nil {
		return err
	}
	return f.b.Bucket(bucketVersions).Delete(versionKey(n))
}

// ListFunctionsInput is ListFunctions' request.
type ListFunctionsInput struct {
	MasterRegion    *string
	FunctionVersion *string
	Marker          *string
	MaxItems        *int
}

// ListFunctionsOutput is ListFunctions' answer.
type ListFunctionsOutput struct {
	NextMarker *string                  `json:"NextMarker,omitempty"`
	Functions  []*FunctionConfiguration `json:"Functions"`
}

// maxListItems is the most items a Lambda list answers per page, whatever
// MaxItems asks for.
const maxListItems = 50

// ListFunctions lists functions in name order, a page of at most 50 items
// at a time: their $LATEST, or with FunctionVersion=ALL every version. The
// marker names the first item of the next page: a function's name, or
// name:version inside a function's versions.
func (s *Store) ListFunctions(ctx context.Context, in *ListFunctionsInput) (*ListFunctionsOutput, error) {
	var v violations
	v.optStr("masterRegion", in.MasterRegion, 0, -1, &patMasterRegion)
	v.enum("functionVersion", in.FunctionVersion, []string{"ALL"})
	v.intRange("maxItems", in.MaxItems, 1, 10000)
	if err := v.err(); err != nil {
		return nil, err
	}
	all := in.FunctionVersion != nil
	limit := pageSize(in.MaxItems)
	out := &ListFunctionsOutput{Functions: []*FunctionConfiguration{}}
	if in.MasterRegion != nil {
		// furl hosts no Lambda@Edge replicas.
		return out, nil
	}
	var startName string
	var startVersion uint64 // 0: start with $LATEST
	if in.Marker != nil {
		name, ver, hasVersion := strings.Cut(*in.Marker, ":")
		startName = name
		if hasVersion {
			n, ok := parseVersion(ver)
			if !ok {
				return nil, invalidParam("Invalid marker: %s", *in.Marker)
			}
			startVersion = n
		}
	}
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketFunctions).Cursor()
		k, _ := c.Seek([]byte(startName))
		for ; k != nil; k, _ = c.Next() {
			f, err := s.openFunction(tx, string(k))
			if err != nil {
				return err
			}
			first := uint64(0)
			if string(k) == startName {
				first = startVersion
			}
			if first == 0 {
				if len(out.Functions) == limit {
					out.NextMarker = ptr(f.name)
					return nil
				}
				latest, err := f.latest()
				if err != nil {
					return err
				}
				item := listed(latest.FunctionConfiguration)
				if all {
					item.FunctionArn = s.account.QualifiedARN(f.name, LatestVersion)
				}
				out.Functions = append(out.Functions, item)
			}
			if !all {
				continue
			}
			vc := f.b.Bucket(bucketVersions).Cursor()
			for vk, raw := vc.Seek(versionKey(max(first, 1))); vk != nil; vk, raw = vc.Next() {
				var ver storedConfig
				if err := json.Unmarshal(raw, &ver); err != nil {
					return fmt.Errorf("urlconfig: corrupt version of %s: %w", f.name, err)
				}
				if len(out.Functions) == limit {
					out.NextMarker = ptr(f.name + ":" + ver.Version)
					return nil
				}
				out.Functions = append(out.Functions, listed(ver.FunctionConfiguration))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func pageSize(maxItems *int) int {
	if maxItems == nil || *maxItems > maxListItems {
		return maxListItems
	}
	return *maxItems
}

// zipFromCode picks the deployment package out of a Code member.
func zipFromCode(zip zipSource, s3Bucket, s3Key, imageURI *string) (zipSource, error) {
	switch {
	case s3Bucket != nil || s3Key != nil:
		return zipSource{}, invalidParam("furl does not support deploying code from S3 yet (Code.S3Bucket): upload the zip itself with ZipFile.")
	case zip.upload == nil && zip.bytes == nil:
		// AWS's answer even when the code is an ImageUri: a Zip
		// function's source is a zip.
		return zipSource{}, invalidParam("Please provide a source for function code.")
	case imageURI != nil:
		return zipSource{}, invalidParam("Please don't provide ImageUri when the intended function PackageType is Zip.")
	case zip.size() > MaxZippedCodeSize:
		return zipSource{}, &Error{Type: ErrRequestTooLarge, Message: "Zipped size must be smaller than 52428800 bytes", NoUserType: true}
	}
	return zip, nil
}

func vpcResponse(in *VpcConfig) *VpcConfigResponse {
	if in == nil {
		return nil
	}
	out := &VpcConfigResponse{SubnetIds: nonNil(in.SubnetIds), SecurityGroupIds: nonNil(in.SecurityGroupIds)}
	if in.Ipv6AllowedForDualStack != nil {
		out.Ipv6AllowedForDualStack = *in.Ipv6AllowedForDualStack
	}
	return out
}

func environmentResponse(in *Environment) *EnvironmentResponse {
	if in == nil {
		return nil
	}
	vars := in.Variables
	if vars == nil {
		vars = map[string]string{}
	}
	return &EnvironmentResponse{Variables: vars}
}

func applyLogging(c *storedConfig, in *LoggingConfig) {
	if in == nil {
		return
	}
	lc := *c.LoggingConfig
	if in.LogFormat != "" {
		lc.LogFormat = in.LogFormat
	}
	if in.LogGroup != "" {
		lc.LogGroup = in.LogGroup
	}
	lc.ApplicationLogLevel, lc.SystemLogLevel = in.ApplicationLogLevel, in.SystemLogLevel
	if lc.LogFormat == "JSON" {
		if lc.ApplicationLogLevel == "" {
			lc.ApplicationLogLevel = "INFO"
		}
		if lc.SystemLogLevel == "" {
			lc.SystemLogLevel = "INFO"
		}
	} else {
		lc.ApplicationLogLevel, lc.SystemLogLevel = "", ""
	}
	c.LoggingConfig = &lc
}

// runtimeVersion is a stable stand-in for the runtime version ARN AWS
// reports: one per runtime, as when AWS pins a version.
func (s *Store) runtimeVersion(runtime string) *RuntimeVersionConfig {
	sum := sha256.Sum256([]byte("furl runtime " + runtime))
	return &RuntimeVersionConfig{RuntimeVersionArn: "arn:aws:lambda:" + s.account.Region + "::runtime:" + hex.EncodeToString(sum[:])}
}

// warnUnsupported logs the configuration furl stores but does not act on.
func (s *Store) warnUnsupported(name string, fs []FileSystemConfig, vpc *VpcConfig) {
	if len(fs) > 0 {
		s.log.Warn("function has a file system config; furl stores it but mounts nothing", "function", name)
	}
	if vpc != nil && len(vpc.SubnetIds) > 0 {
		s.log.Warn("function has a VPC config; furl stores it but runs the function on the host's network", "function", name)
	}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func derefOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

func ptr[T any](v T) *T { return &v }

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
