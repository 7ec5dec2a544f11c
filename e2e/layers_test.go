package e2e

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// The Layers API through the AWS SDK: versions published, listed, read by
// ARN and downloaded, their policies, a function using a layer, and the
// layer version deleted under it.
func TestLayersAPI(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	const layerARN = "arn:aws:lambda:us-east-1:000000000000:layer:shared"

	zips := [][]byte{
		makeZip(t, map[string]string{"nodejs/node_modules/greet/index.js": "module.exports = () => 'v1';\n"}),
		makeZip(t, map[string]string{"nodejs/node_modules/greet/index.js": "module.exports = () => 'v2';\n"}),
	}
	var published []*lambda.PublishLayerVersionOutput
	for i, z := range zips {
		out, err := c.PublishLayerVersion(ctx(t), &lambda.PublishLayerVersionInput{
			LayerName:               aws.String("shared"),
			Description:             aws.String("greeting"),
			Content:                 &types.LayerVersionContentInput{ZipFile: z},
			CompatibleRuntimes:      []types.Runtime{types.RuntimeNodejs22x},
			CompatibleArchitectures: []types.Architecture{types.ArchitectureX8664},
			LicenseInfo:             aws.String("MIT"),
		})
		if err != nil {
			t.Fatalf("PublishLayerVersion %d: %v", i+1, err)
		}
		if out.Version != int64(i+1) || aws.ToString(out.LayerArn) != layerARN || aws.ToString(out.LayerVersionArn) != layerARN+":"+string(rune('1'+i)) {
			t.Fatalf("version %d: %s %s %d", i+1, aws.ToString(out.LayerArn), aws.ToString(out.LayerVersionArn), out.Version)
		}
		if aws.ToString(out.Content.CodeSha256) != codeSha256(z) || out.Content.CodeSize != int64(len(z)) || aws.ToString(out.CreatedDate) == "" {
			t.Fatalf("version %d content: %+v, created %q", i+1, out.Content, aws.ToString(out.CreatedDate))
		}
		published = append(published, out)
	}

	// The zip is served where Content.Location says.
	got, err := c.GetLayerVersionByArn(ctx(t), &lambda.GetLayerVersionByArnInput{Arn: aws.String(layerARN + ":1")})
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 1 || aws.ToString(got.LicenseInfo) != "MIT" || aws.ToString(got.Description) != "greeting" {
		t.Fatalf("GetLayerVersionByArn: %+v", got)
	}
	resp, err := http.Get(aws.ToString(got.Content.Location))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, zips[0]) {
		t.Fatalf("Content.Location %s: %d, %d bytes, want the published zip", aws.ToString(got.Content.Location), resp.StatusCode, len(body))
	}

	layers, err := c.ListLayers(ctx(t), &lambda.ListLayersInput{CompatibleRuntime: types.RuntimeNodejs22x})
	if err != nil {
		t.Fatal(err)
	}
	if len(layers.Layers) != 1 || aws.ToString(layers.Layers[0].LayerName) != "shared" || layers.Layers[0].LatestMatchingVersion.Version != 2 {
		t.Fatalf("ListLayers: %s", jsonOf(layers.Layers))
	}
	if none, err := c.ListLayers(ctx(t), &lambda.ListLayersInput{CompatibleRuntime: types.RuntimePython312}); err != nil || len(none.Layers) != 0 {
		t.Fatalf("ListLayers python3.12: %s, %v", jsonOf(none), err)
	}
	versions, err := c.ListLayerVersions(ctx(t), &lambda.ListLayerVersionsInput{LayerName: aws.String("shared")})
	if err != nil || len(versions.LayerVersions) != 2 || versions.LayerVersions[0].Version != 2 || versions.LayerVersions[1].Version != 1 {
		t.Fatalf("ListLayerVersions: %s, %v", jsonOf(versions), err)
	}

	// A version's policy.
	add, err := c.AddLayerVersionPermission(ctx(t), &lambda.AddLayerVersionPermissionInput{
		LayerName: aws.String("shared"), VersionNumber: aws.Int64(1), StatementId: aws.String("everyone"),
		Action: aws.String("lambda:GetLayerVersion"), Principal: aws.String("*"),
	})
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, aws.ToString(add.Statement), `"Resource":"`+layerARN+`:1"`)
	pol, err := c.GetLayerVersionPolicy(ctx(t), &lambda.GetLayerVersionPolicyInput{LayerName: aws.String("shared"), VersionNumber: aws.Int64(1)})
	if err != nil || aws.ToString(pol.RevisionId) != aws.ToString(add.RevisionId) {
		t.Fatalf("GetLayerVersionPolicy: %+v, %v", pol, err)
	}
	mustContain(t, aws.ToString(pol.Policy), `"Sid":"everyone"`)
	if _, err := c.RemoveLayerVersionPermission(ctx(t), &lambda.RemoveLayerVersionPermissionInput{
		LayerName: aws.String("shared"), VersionNumber: aws.Int64(1), StatementId: aws.String("everyone"),
	}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetLayerVersionPolicy(ctx(t), &lambda.GetLayerVersionPolicyInput{LayerName: aws.String("shared"), VersionNumber: aws.Int64(1)})
	apiErr(t, err, "ResourceNotFoundException", "No policy is associated with the given resource.")

	// A function with a layer, and the layer version deleted under it.
	arn := aws.ToString(published[0].LayerVersionArn)
	fn, err := c.CreateFunction(ctx(t), &lambda.CreateFunctionInput{
		FunctionName: aws.String("uses-layer"), Runtime: types.RuntimeNodejs22x, Role: aws.String(testRole),
		Handler: aws.String("index.handler"), Code: &types.FunctionCode{ZipFile: nodeZip(t, "layered")},
		Layers: []string{arn},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(fn.Layers) != 1 || aws.ToString(fn.Layers[0].Arn) != arn || fn.Layers[0].CodeSize != int64(len(zips[0])) {
		t.Fatalf("CreateFunction Layers: %s", jsonOf(fn.Layers))
	}
	for range 2 { // a delete is idempotent
		if _, err := c.DeleteLayerVersion(ctx(t), &lambda.DeleteLayerVersionInput{LayerName: aws.String("shared"), VersionNumber: aws.Int64(1)}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.GetLayerVersion(ctx(t), &lambda.GetLayerVersionInput{LayerName: aws.String("shared"), VersionNumber: aws.Int64(1)})
	apiErr(t, err, "ResourceNotFoundException", "The resource you requested does not exist.")
	cfg, err := c.GetFunctionConfiguration(ctx(t), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("uses-layer")})
	if err != nil || len(cfg.Layers) != 1 || aws.ToString(cfg.Layers[0].Arn) != arn {
		t.Fatalf("after the layer version's delete, the function's Layers: %s, %v", jsonOf(cfg), err)
	}
	// Its content stays with the function: the zip is still on disk.
	loc := aws.ToString(published[0].Content.Location)
	zipName := loc[strings.LastIndex(loc, "/")+1:]
	if files := codeFiles(t, f); !slices.Contains(files, zipName) {
		t.Fatalf("the deleted layer version's zip %s is gone while a function uses it: %v", zipName, files)
	}

	// Errors, and state intact after them.
	_, err = c.UpdateFunctionConfiguration(ctx(t), &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("uses-layer"), Layers: []string{layerARN + ":9"}})
	apiErr(t, err, "InvalidParameterValueException", "Layer version "+layerARN+":9 does not exist.")
	_, err = c.UpdateFunctionConfiguration(ctx(t), &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("uses-layer"),
		Layers: []string{layerARN + ":2", layerARN + ":2", layerARN + ":2", layerARN + ":2", layerARN + ":2", layerARN + ":2"}})
	apiErr(t, err, "InvalidParameterValueException", "Cannot reference more than 5 layers.")
	_, err = c.UpdateFunctionConfiguration(ctx(t), &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("uses-layer"),
		Layers: []string{layerARN + ":2", layerARN + ":2"}})
	apiErr(t, err, "InvalidParameterValueException", "Two different versions of the same layer are not allowed to be referenced in the same function. "+
		layerARN+":2 and "+layerARN+":2 are versions of the same layer.")
	_, err = c.PublishLayerVersion(ctx(t), &lambda.PublishLayerVersionInput{LayerName: aws.String("shared"), Content: &types.LayerVersionContentInput{ZipFile: []byte("not a zip")}})
	apiErrCode(t, err, "InvalidParameterValueException")
	_, err = c.PublishLayerVersion(ctx(t), &lambda.PublishLayerVersionInput{LayerName: aws.String("shared"), Content: &types.LayerVersionContentInput{S3Bucket: aws.String("bucket"), S3Key: aws.String("layer.zip")}})
	apiErrCode(t, err, "InvalidParameterValueException")
	_, err = c.GetLayerVersion(ctx(t), &lambda.GetLayerVersionInput{LayerName: aws.String("bad name!"), VersionNumber: aws.Int64(1)})
	apiErrCode(t, err, "ValidationException")
	cfg, err = c.GetFunctionConfiguration(ctx(t), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("uses-layer")})
	if err != nil || len(cfg.Layers) != 1 || aws.ToString(cfg.Layers[0].Arn) != arn {
		t.Fatalf("refused updates changed the function's Layers: %s, %v", jsonOf(cfg), err)
	}
	if next, err := c.PublishLayerVersion(ctx(t), &lambda.PublishLayerVersionInput{LayerName: aws.String("shared"), Content: &types.LayerVersionContentInput{ZipFile: zips[0]}}); err != nil || next.Version != 3 {
		t.Fatalf("after refusals and a delete, the next version: %+v, %v", next, err)
	}

	// Layers: [] removes them.
	upd, err := c.UpdateFunctionConfiguration(ctx(t), &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("uses-layer"), Layers: []string{}})
	if err != nil || len(upd.Layers) != 0 {
		t.Fatalf("Layers: []: %s, %v", jsonOf(upd), err)
	}
}
