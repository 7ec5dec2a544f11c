package urlconfig

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Layers are stored in the layers bucket, one sub-bucket per layer name:
// its record (the last version number given out, kept after every version
// is deleted so that no number is reused), its versions and their
// resource policies. A layer version's zip lives in the code store and is
// reference-counted like function code: the version holds one reference,
// and so does every function configuration ($LATEST or a published
// version) that uses it, which keeps the content of a deleted layer
// version for the functions still using it, as AWS does.
var (
	bucketLayers  = []byte("layers")
	keyLayer      = []byte("layer")
	layerVersions = []byte("versions")
	layerPolicies = []byte("policies")
)

// maxFunctionLayers is how many layers a function may use.
const maxFunctionLayers = 5

var (
	patLayerName        = rePattern(`(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+`)
	patLayerStatementID = rePattern(`([a-zA-Z0-9-_]+)`)
	patLayerAction      = rePattern(`lambda:GetLayerVersion`)
	patLayerPrincipal   = rePattern(`\d{12}|\*|arn:(aws[a-zA-Z-]*):iam::\d{12}:root`)
	patOrganizationID   = rePattern(`o-[a-z0-9]{10,32}`)
)

// layerRecord is what a layer keeps beside its versions.
type layerRecord struct {
	Name        string `json:"Name"`
	LastVersion int64  `json:"LastVersion"`
}

// LayerVersionContent is a layer version's zip as GetLayerVersion
// describes it. Location is the gateway's to fill.
type LayerVersionContent struct {
	Location   string `json:"Location,omitempty"`
	CodeSha256 string `json:"CodeSha256"`
	CodeSize   int64  `json:"CodeSize"`
}

// LayerVersion is PublishLayerVersion's and GetLayerVersion's answer.
type LayerVersion struct {
	Content                 *LayerVersionContent `json:"Content"`
	LayerArn                string               `json:"LayerArn"`
	LayerVersionArn         string               `json:"LayerVersionArn"`
	Description             string               `json:"Description,omitempty"`
	CreatedDate             string               `json:"CreatedDate"`
	Version                 int64                `json:"Version"`
	CompatibleRuntimes      []string             `json:"CompatibleRuntimes,omitempty"`
	LicenseInfo             string               `json:"LicenseInfo,omitempty"`
	CompatibleArchitectures []string             `json:"CompatibleArchitectures,omitempty"`
}

// storedLayerVersion is a layer version as the store keeps it.
type storedLayerVersion struct {
	LayerVersion
	// CodeHash is the hex SHA-256 of the zip, its name in the code store.
	CodeHash     string `json:"furl:CodeHash"`
	UnzippedSize int64  `json:"furl:UnzippedSize"`
}

// LayerVersionsListItem is a layer version as the list operations show
// it.
type LayerVersionsListItem struct {
	LayerVersionArn         string   `json:"LayerVersionArn"`
	Version                 int64    `json:"Version"`
	Description             string   `json:"Description,omitempty"`
	CreatedDate             string   `json:"CreatedDate"`
	CompatibleRuntimes      []string `json:"CompatibleRuntimes,omitempty"`
	LicenseInfo             string   `json:"LicenseInfo,omitempty"`
	CompatibleArchitectures []string `json:"CompatibleArchitectures,omitempty"`
}

func (v *storedLayerVersion) listItem() *LayerVersionsListItem {
	return &LayerVersionsListItem{
		LayerVersionArn: v.LayerVersionArn, Version: v.Version, Description: v.Description,
		CreatedDate: v.CreatedDate, CompatibleRuntimes: v.CompatibleRuntimes, LicenseInfo: v.LicenseInfo,
		CompatibleArchitectures: v.CompatibleArchitectures,
	}
}

// matches says whether the version suits a list's filters ("" matches
// anything).
func (v *storedLayerVersion) matches(runtime, arch string) bool {
	return (runtime == "" || slices.Contains(v.CompatibleRuntimes, runtime)) &&
		(arch == "" || slices.Contains(v.CompatibleArchitectures, arch))
}

// PublishLayerVersionContent is the zip of a new layer version.
type PublishLayerVersionContent struct {
	ZipFile         []byte  `json:"ZipFile"`
	S3Bucket        *string `json:"S3Bucket"`
	S3Key           *string `json:"S3Key"`
	S3ObjectVersion *string `json:"S3ObjectVersion"`

	// Upload, when set, is the zip the gateway received for ZipFile and
	// takes its place. The caller closes it.
	Upload *CodeUpload `json:"-"`
}

// PublishLayerVersionInput is PublishLayerVersion's request; LayerName
// comes from the path.
type PublishLayerVersionInput struct {
	LayerName               string                      `json:"-"`
	Description             *string                     `json:"Description"`
	Content                 *PublishLayerVersionContent `json:"Content"`
	CompatibleRuntimes      []string                    `json:"CompatibleRuntimes"`
	LicenseInfo             *string                     `json:"LicenseInfo"`
	CompatibleArchitectures []string                    `json:"CompatibleArchitectures"`
}

// LayerARN is the ARN of the named layer.
func (a Account) LayerARN(name string) string {
	return "arn:aws:lambda:" + a.Region + ":" + a.ID + ":layer:" + name
}

// LayerVersionARN is the ARN of one version of the named layer.
func (a Account) LayerVersionARN(name string, version int64) string {
	return a.LayerARN(name) + ":" + strconv.FormatInt(version, 10)
}

// layerName validates a LayerName parameter (a name or a layer ARN) and
// returns the name. ok is false for the ARN of a layer of another account
// or region, which furl cannot have.
func (s *Store) layerName(param string) (name string, ok bool, err error) {
	var v violations
	v.str("layerName", param, 1, 140, &patLayerName)
	if err := v.err(); err != nil {
		return "", false, err
	}
	if !strings.HasPrefix(param, "arn:") {
		return param, true, nil
	}
	prefix := s.account.LayerARN("")
	if !strings.HasPrefix(param, prefix) {
		return "", false, nil
	}
	return strings.TrimPrefix(param, prefix), true, nil
}

// checkCompatibility validates the compatible runtimes and architectures
// of a layer version.
func checkCompatibility(v *violations, runtimesIn, archs []string) {
	if len(runtimesIn) > 15 {
		v.add(quote("["+strings.Join(runtimesIn, ", ")+"]"), "compatibleRuntimes", "Member must have length less than or equal to 15")
	}
	for _, r := range runtimesIn {
		if !slices.Contains(runtimes, r) {
			v.add(quote("["+strings.Join(runtimesIn, ", ")+"]"), "compatibleRuntimes", "Member must satisfy constraint: [Member must satisfy enum value set: ["+strings.Join(runtimes, ", ")+"]]")
			break
		}
	}
	if len(archs) > 2 {
		v.add(quote("["+strings.Join(archs, ", ")+"]"), "compatibleArchitectures", "Member must have length less than or equal to 2")
	}
	for _, a := range archs {
		if !slices.Contains(architectures, a) {
			v.add(quote("["+strings.Join(archs, ", ")+"]"), "compatibleArchitectures", "Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64]]")
			break
		}
	}
}

// PublishLayerVersion stores a zip as the next version of a layer,
// creating the layer when it is new. It returns the version and the hex
// SHA-256 of its zip, from which the caller builds Content.Location.
func (s *Store) PublishLayerVersion(ctx context.Context, in *PublishLayerVersionInput) (*LayerVersion, string, error) {
	var v violations
	v.str("layerName", in.LayerName, 1, 140, &patLayerName)
	if in.Content == nil {
		v.required("content")
	} else {
		v.optStr("content.s3Bucket", in.Content.S3Bucket, 3, 63, &patS3Bucket)
		v.optStr("content.s3Key", in.Content.S3Key, 1, 1024, nil)
		v.optStr("content.s3ObjectVersion", in.Content.S3ObjectVersion, 1, 1024, nil)
	}
	v.optStr("description", in.Description, 0, 256, nil)
	v.optStr("licenseInfo", in.LicenseInfo, 0, 512, nil)
	checkCompatibility(&v, in.CompatibleRuntimes, in.CompatibleArchitectures)
	if err := v.err(); err != nil {
		return nil, "", err
	}
	name, ok, err := s.layerName(in.LayerName)
	if err != nil {
		return nil, "", err
	}
	if !ok {
		return nil, "", accessDenied()
	}
	src, err := zipFromCode(zipSource{upload: in.Content.Upload, bytes: in.Content.ZipFile}, in.Content.S3Bucket, in.Content.S3Key, nil)
	if err != nil {
		return nil, "", err
	}
	archive, err := s.code.stage(src)
	if err != nil {
		return nil, "", err
	}
	defer s.code.discard(archive)

	var out *storedLayerVersion
	err = s.update(func(t *txn) error {
		b, err := t.Bucket(bucketLayers).CreateBucketIfNotExists([]byte(name))
		if err != nil {
			return err
		}
		for _, sub := range [][]byte{layerVersions, layerPolicies} {
			if _, err := b.CreateBucketIfNotExists(sub); err != nil {
				return err
			}
		}
		rec := layerRecord{Name: name}
		if _, err := getJSON(b, keyLayer, &rec); err != nil {
			return err
		}
		rec.LastVersion++
		out = &storedLayerVersion{
			LayerVersion: LayerVersion{
				Content:                 &LayerVersionContent{CodeSha256: archive.b64Sum, CodeSize: archive.size},
				LayerArn:                s.account.LayerARN(name),
				LayerVersionArn:         s.account.LayerVersionARN(name, rec.LastVersion),
				Description:             deref(in.Description),
				CreatedDate:             s.now().UTC().Format(lastModifiedLayout),
				Version:                 rec.LastVersion,
				CompatibleRuntimes:      in.CompatibleRuntimes,
				LicenseInfo:             deref(in.LicenseInfo),
				CompatibleArchitectures: in.CompatibleArchitectures,
			},
			CodeHash:     archive.hexSum,
			UnzippedSize: archive.unzipped,
		}
		if err := t.refCode(archive); err != nil {
			return err
		}
		if err := putJSON(b.Bucket(layerVersions), versionKey(uint64(rec.LastVersion)), out); err != nil {
			return err
		}
		return putJSON(b, keyLayer, rec)
	})
	if err != nil {
		return nil, "", err
	}
	resp := out.LayerVersion
	return &resp, out.CodeHash, nil
}

// layerVersion reads one layer version; ok is false when it does not
// exist.
func layerVersion(tx *bolt.Tx, name string, version int64) (*storedLayerVersion, bool, error) {
	b := tx.Bucket(bucketLayers).Bucket([]byte(name))
	if b == nil || version < 1 {
		return nil, false, nil
	}
	var lv storedLayerVersion
	ok, err := getJSON(b.Bucket(layerVersions), versionKey(uint64(version)), &lv)
	if err != nil || !ok {
		return nil, false, err
	}
	return &lv, true, nil
}

// GetLayerVersion describes a layer version; it also returns the hex
// SHA-256 of its zip, from which the caller builds Content.Location.
func (s *Store) GetLayerVersion(ctx context.Context, layerName string, version int64) (*LayerVersion, string, error) {
	name, ok, err := s.layerName(layerName)
	if err != nil {
		return nil, "", err
	}
	if !ok {
		return nil, "", resourceNotFound()
	}
	var out *storedLayerVersion
	err = s.view(func(tx *bolt.Tx) error {
		lv, ok, err := layerVersion(tx, name, version)
		if err != nil {
			return err
		}
		if !ok {
			return resourceNotFound()
		}
		out = lv
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	resp := out.LayerVersion
	return &resp, out.CodeHash, nil
}

// GetLayerVersionByArn is GetLayerVersion for a layer version ARN.
func (s *Store) GetLayerVersionByArn(ctx context.Context, arn string) (*LayerVersion, string, error) {
	var v violations
	v.str("arn", arn, 1, 140, &patLayerVersionArn)
	if err := v.err(); err != nil {
		return nil, "", err
	}
	name, version, ok := s.parseLayerVersionARN(arn)
	if !ok {
		return nil, "", resourceNotFound()
	}
	return s.GetLayerVersion(ctx, name, version)
}

// parseLayerVersionARN takes apart a layer version ARN that matched its
// pattern; ok is false when it names another account's or region's layer
// or a version number no layer can have.
func (s *Store) parseLayerVersionARN(arn string) (name string, version int64, ok bool) {
	rest, found := strings.CutPrefix(arn, s.account.LayerARN(""))
	if !found {
		return "", 0, false
	}
	i := strings.LastIndexByte(rest, ':')
	if i < 0 {
		return "", 0, false
	}
	n, err := strconv.ParseInt(rest[i+1:], 10, 64)
	if err != nil || n < 1 {
		return "", 0, false
	}
	return rest[:i], n, true
}

// ListLayersInput is ListLayers' request.
type ListLayersInput struct {
	CompatibleRuntime      *string
	CompatibleArchitecture *string
	Marker                 *string
	MaxItems               *int
}

// LayersListItem is a layer as ListLayers shows it: with its newest
// version that matches the filters.
type LayersListItem struct {
	LayerName             string                 `json:"LayerName"`
	LayerArn              string                 `json:"LayerArn"`
	LatestMatchingVersion *LayerVersionsListItem `json:"LatestMatchingVersion"`
}

// ListLayersOutput is ListLayers' answer.
type ListLayersOutput struct {
	NextMarker *string           `json:"NextMarker,omitempty"`
	Layers     []*LayersListItem `json:"Layers"`
}

func checkListFilters(v *violations, runtime, arch *string, maxItems *int) {
	v.enum("compatibleRuntime", runtime, runtimes)
	v.enum("compatibleArchitecture", arch, architectures)
	v.intRange("maxItems", maxItems, 1, 50)
}

// ListLayers lists the layers that have a version matching the filters,
// in name order, a page at a time. The marker is the name of the layer
// that starts the next page.
func (s *Store) ListLayers(ctx context.Context, in *ListLayersInput) (*ListLayersOutput, error) {
	var v violations
	checkListFilters(&v, in.CompatibleRuntime, in.CompatibleArchitecture, in.MaxItems)
	if err := v.err(); err != nil {
		return nil, err
	}
	limit := pageSize(in.MaxItems)
	runtime, arch := deref(in.CompatibleRuntime), deref(in.CompatibleArchitecture)
	out := &ListLayersOutput{Layers: []*LayersListItem{}}
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketLayers).Cursor()
		k, _ := c.Seek([]byte(deref(in.Marker)))
		for ; k != nil; k, _ = c.Next() {
			latest, err := newestMatching(tx.Bucket(bucketLayers).Bucket(k), runtime, arch)
			if err != nil {
				return err
			}
			if latest == nil {
				continue
			}
			if len(out.Layers) == limit {
				out.NextMarker = ptr(string(k))
				return nil
			}
			out.Layers = append(out.Layers, &LayersListItem{
				LayerName: string(k), LayerArn: s.account.LayerARN(string(k)), LatestMatchingVersion: latest.listItem(),
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// newestMatching is a layer's newest version that matches the filters,
// nil when none does.
func newestMatching(b *bolt.Bucket, runtime, arch string) (*storedLayerVersion, error) {
	c := b.Bucket(layerVersions).Cursor()
	for k, raw := c.Last(); k != nil; k, raw = c.Prev() {
		var lv storedLayerVersion
		if err := json.Unmarshal(raw, &lv); err != nil {
			return nil, fmt.Errorf("urlconfig: corrupt layer version: %w", err)
		}
		if lv.matches(runtime, arch) {
			return &lv, nil
		}
	}
	return nil, nil
}

// ListLayerVersionsInput is ListLayerVersions' request; LayerName comes
// from the path.
type ListLayerVersionsInput struct {
	LayerName              string
	CompatibleRuntime      *string
	CompatibleArchitecture *string
	Marker                 *string
	MaxItems               *int
}

// ListLayerVersionsOutput is ListLayerVersions' answer.
type ListLayerVersionsOutput struct {
	NextMarker    *string                  `json:"NextMarker,omitempty"`
	LayerVersions []*LayerVersionsListItem `json:"LayerVersions"`
}

// ListLayerVersions lists a layer's versions that match the filters,
// newest first, a page at a time. The marker is the version number that
// starts the next page. A layer that does not exist has no versions.
func (s *Store) ListLayerVersions(ctx context.Context, in *ListLayerVersionsInput) (*ListLayerVersionsOutput, error) {
	var v violations
	v.str("layerName", in.LayerName, 1, 140, &patLayerName)
	checkListFilters(&v, in.CompatibleRuntime, in.CompatibleArchitecture, in.MaxItems)
	if err := v.err(); err != nil {
		return nil, err
	}
	name, ok, err := s.layerName(in.LayerName)
	if err != nil {
		return nil, err
	}
	out := &ListLayerVersionsOutput{LayerVersions: []*LayerVersionsListItem{}}
	if !ok {
		return out, nil
	}
	start := int64(-1) // the newest
	if in.Marker != nil {
		n, ok := parseVersion(*in.Marker)
		if !ok {
			return nil, invalidParam("Invalid marker: %s", *in.Marker)
		}
		start = int64(n)
	}
	limit := pageSize(in.MaxItems)
	runtime, arch := deref(in.CompatibleRuntime), deref(in.CompatibleArchitecture)
	err = s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLayers).Bucket([]byte(name))
		if b == nil {
			return nil
		}
		c := b.Bucket(layerVersions).Cursor()
		k, raw := c.Last()
		if start >= 0 {
			// Seek lands on the first key at or after start: step back
			// when it is past it.
			if k, raw = c.Seek(versionKey(uint64(start))); k == nil || string(k) != string(versionKey(uint64(start))) {
				if k == nil {
					k, raw = c.Last()
				} else {
					k, raw = c.Prev()
				}
			}
		}
		for ; k != nil; k, raw = c.Prev() {
			var lv storedLayerVersion
			if err := json.Unmarshal(raw, &lv); err != nil {
				return fmt.Errorf("urlconfig: corrupt layer version of %s: %w", name, err)
			}
			if !lv.matches(runtime, arch) {
				continue
			}
			if len(out.LayerVersions) == limit {
				out.NextMarker = ptr(strconv.FormatInt(lv.Version, 10))
				return nil
			}
			out.LayerVersions = append(out.LayerVersions, lv.listItem())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteLayerVersion deletes a layer version and its policy. Deleting one
// that does not exist succeeds, as on AWS. Functions that use the version
// keep its content; its number is never given out again.
func (s *Store) DeleteLayerVersion(ctx context.Context, layerName string, version int64) error {
	name, ok, err := s.layerName(layerName)
	if err != nil || !ok {
		return err
	}
	return s.update(func(t *txn) error {
		lv, ok, err := layerVersion(t.Tx, name, version)
		if err != nil || !ok {
			return err
		}
		if err := t.dropCodeRef(lv.CodeHash); err != nil {
			return err
		}
		b := t.Bucket(bucketLayers).Bucket([]byte(name))
		if err := b.Bucket(layerPolicies).Delete(versionKey(uint64(version))); err != nil {
			return err
		}
		return b.Bucket(layerVersions).Delete(versionKey(uint64(version)))
	})
}

// AddLayerVersionPermissionInput is AddLayerVersionPermission's request;
// LayerName, VersionNumber and RevisionId come from the path and query.
type AddLayerVersionPermissionInput struct {
	LayerName      string  `json:"-"`
	VersionNumber  int64   `json:"-"`
	RevisionId     *string `json:"-"`
	StatementId    *string `json:"StatementId"`
	Action         *string `json:"Action"`
	Principal      *string `json:"Principal"`
	OrganizationId *string `json:"OrganizationId"`
}

// AddLayerVersionPermissionOutput is AddLayerVersionPermission's answer.
type AddLayerVersionPermissionOutput struct {
	Statement  string `json:"Statement"`
	RevisionId string `json:"RevisionId"`
}

func layerRevisionMismatch() *Error {
	return errorf(ErrPreconditionFailed, "The Revision Id provided does not match the latest Revision Id. Call the GetLayerPolicy API to retrieve the latest Revision Id")
}

// AddLayerVersionPermission adds a statement to a layer version's
// resource policy, built the way AddPermission builds a function's.
func (s *Store) AddLayerVersionPermission(ctx context.Context, in *AddLayerVersionPermissionInput) (*AddLayerVersionPermissionOutput, error) {
	var v violations
	v.str("layerName", in.LayerName, 1, 140, &patLayerName)
	if in.StatementId == nil {
		v.required("statementId")
	}
	if in.Action == nil {
		v.required("action")
	}
	if in.Principal == nil {
		v.required("principal")
	}
	v.optStr("statementId", in.StatementId, 1, 100, &patLayerStatementID)
	v.optStr("action", in.Action, 0, 22, &patLayerAction)
	v.optStr("principal", in.Principal, 0, -1, &patLayerPrincipal)
	v.optStr("organizationId", in.OrganizationId, 0, 34, &patOrganizationID)
	if err := v.err(); err != nil {
		return nil, err
	}
	name, ok, err := s.layerName(in.LayerName)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, resourceNotFound()
	}
	statement, err := s.buildStatement(&AddPermissionInput{
		StatementId: in.StatementId, Action: in.Action, Principal: in.Principal, PrincipalOrgID: in.OrganizationId,
	}, s.account.LayerVersionARN(name, in.VersionNumber))
	if err != nil {
		return nil, err
	}
	var out AddLayerVersionPermissionOutput
	err = s.update(func(t *txn) error {
		pb, p, err := layerPolicy(t.Tx, name, in.VersionNumber)
		if err != nil {
			return err
		}
		if in.RevisionId != nil && *in.RevisionId != p.RevisionId {
			return layerRevisionMismatch()
		}
		for _, st := range p.Statements {
			if sidOf(st) == *in.StatementId {
				return conflict("The statement id (%s) provided already exists. Please provide a new statement id, or remove the existing statement.", *in.StatementId)
			}
		}
		p.Statements = append(p.Statements, statement)
		if size := len(p.document()); size > maxPolicyBytes {
			return errorf(ErrPolicyLengthExceeded, "The final policy size (%d) is bigger than the limit (%d).", size, maxPolicyBytes)
		}
		p.RevisionId = newRevisionID()
		out = AddLayerVersionPermissionOutput{Statement: string(statement), RevisionId: p.RevisionId}
		return putJSON(pb, versionKey(uint64(in.VersionNumber)), p)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// layerPolicy reads a layer version's policy (empty when it has none) and
// the bucket it lives in; the version must exist.
func layerPolicy(tx *bolt.Tx, name string, version int64) (*bolt.Bucket, *storedPolicy, error) {
	_, ok, err := layerVersion(tx, name, version)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, resourceNotFound()
	}
	pb := tx.Bucket(bucketLayers).Bucket([]byte(name)).Bucket(layerPolicies)
	var p storedPolicy
	if _, err := getJSON(pb, versionKey(uint64(version)), &p); err != nil {
		return nil, nil, err
	}
	return pb, &p, nil
}

// GetLayerVersionPolicy returns a layer version's resource policy.
func (s *Store) GetLayerVersionPolicy(ctx context.Context, layerName string, version int64) (*GetPolicyOutput, error) {
	name, ok, err := s.layerName(layerName)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, resourceNotFound()
	}
	var out GetPolicyOutput
	err = s.view(func(tx *bolt.Tx) error {
		_, p, err := layerPolicy(tx, name, version)
		if err != nil {
			return err
		}
		if len(p.Statements) == 0 {
			return notFound("No policy is associated with the given resource.")
		}
		out = GetPolicyOutput{Policy: string(p.document()), RevisionId: p.RevisionId}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// RemoveLayerVersionPermission removes a statement from a layer version's
// resource policy.
func (s *Store) RemoveLayerVersionPermission(ctx context.Context, layerName string, version int64, statementID string, revisionID *string) error {
	var v violations
	v.str("statementId", statementID, 1, 100, &patLayerStatementID)
	if err := v.err(); err != nil {
		return err
	}
	name, ok, err := s.layerName(layerName)
	if err != nil {
		return err
	}
	if !ok {
		return resourceNotFound()
	}
	return s.update(func(t *txn) error {
		pb, p, err := layerPolicy(t.Tx, name, version)
		if err != nil {
			return err
		}
		if revisionID != nil && *revisionID != p.RevisionId {
			return layerRevisionMismatch()
		}
		i := slices.IndexFunc(p.Statements, func(st json.RawMessage) bool { return sidOf(st) == statementID })
		if i < 0 {
			return notFound("Statement %s is not found in resource policy.", statementID)
		}
		p.Statements = slices.Delete(p.Statements, i, i+1)
		if len(p.Statements) == 0 {
			return pb.Delete(versionKey(uint64(version)))
		}
		p.RevisionId = newRevisionID()
		return putJSON(pb, versionKey(uint64(version)), p)
	})
}

// functionLayers resolves a function's Layers to the versions they name,
// in order, refusing more than AWS allows and versions that do not exist,
// and checks that code and layers together fit the unzipped limit. It sets
// them on c without taking references.
func (s *Store) functionLayers(tx *bolt.Tx, c *storedConfig, arns []string) error {
	if len(arns) > maxFunctionLayers {
		return invalidParam("Cannot reference more than %d layers.", maxFunctionLayers)
	}
	c.Layers, c.LayerHashes, c.LayersUnzippedSize = nil, nil, 0
	seen := map[string]string{} // layer name → the ARN that named it
	for _, arn := range arns {
		name, version, ok := s.parseLayerVersionARN(arn)
		var lv *storedLayerVersion
		if ok {
			var err error
			if lv, ok, err = layerVersion(tx, name, version); err != nil {
				return err
			}
		}
		if !ok {
			return invalidParam("Layer version %s does not exist.", arn)
		}
		if first, dup := seen[name]; dup {
			// AWS refuses a layer named twice, even at one version.
			return invalidParam("Two different versions of the same layer are not allowed to be referenced in the same function. %s and %s are versions of the same layer.", first, arn)
		}
		seen[name] = arn
		c.Layers = append(c.Layers, LayerReference{Arn: arn, CodeSize: lv.Content.CodeSize})
		c.LayerHashes = append(c.LayerHashes, lv.CodeHash)
		c.LayersUnzippedSize += lv.UnzippedSize
	}
	return checkCombinedSize(c.UnzippedSize, c.LayersUnzippedSize)
}

// checkCombinedSize refuses code whose layers take it over the unzipped
// limit.
func checkCombinedSize(code, layers int64) error {
	if layers > 0 && code+layers > MaxUnzippedCodeSize {
		return invalidParam("Function code combined with layers exceeds the maximum allowed size of %d bytes. The actual size is %d bytes.", MaxUnzippedCodeSize, code+layers)
	}
	return nil
}

// refLayers adds (delta 1) or drops (delta -1) the references a function
// configuration holds on its layers' content.
func (t *txn) refLayers(c *storedConfig, delta int) error {
	for _, h := range c.LayerHashes {
		var err error
		if delta > 0 {
			err = t.addCodeRef(h)
		} else {
			err = t.dropCodeRef(h)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
