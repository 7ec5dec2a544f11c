package gateway

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/furl-dev/furl/urlconfig"
)

// layerOperations are the Layers API's operations.
func (s *Server) layerOperations() []operation {
	const layer = "/2018-10-31/layers/{LayerName}/versions"
	const version = layer + "/{VersionNumber}"
	return []operation{
		{"PublishLayerVersion", "POST", layer, maxCodeRequestBytes, s.publishLayerVersion},
		{"ListLayerVersions", "GET", layer, 0, s.listLayerVersions},
		{"GetLayerVersion", "GET", version, 0, s.getLayerVersion},
		{"DeleteLayerVersion", "DELETE", version, 0, s.deleteLayerVersion},
		// GetLayerVersionByArn shares ListLayers' path; its find query
		// tells them apart.
		{"ListLayers", "GET", "/2018-10-31/layers", 0, s.listLayersOrFind},
		{"AddLayerVersionPermission", "POST", version + "/policy", maxOtherRequestBytes, s.addLayerVersionPermission},
		{"GetLayerVersionPolicy", "GET", version + "/policy", 0, s.getLayerVersionPolicy},
		{"RemoveLayerVersionPermission", "DELETE", version + "/policy/{StatementId}", 0, s.removeLayerVersionPermission},
	}
}

// versionNumber reads the VersionNumber path parameter, a long.
func versionNumber(r *http.Request) (int64, error) {
	v := r.PathValue("VersionNumber")
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, newError(urlconfig.ErrValidation, fmt.Sprintf("1 validation error detected: Value '%s' at 'versionNumber' failed to satisfy constraint: Member must be a number", v))
	}
	return n, nil
}

// withLocation fills in where a layer version's zip is served.
func (s *Server) withLocation(r *http.Request, lv *urlconfig.LayerVersion, hash string, err error) (int, any, error) {
	if err != nil {
		return 0, nil, err
	}
	lv.Content.Location = s.codeLocation(r, hash)
	return http.StatusOK, lv, nil
}

func (s *Server) publishLayerVersion(r *http.Request) (int, any, error) {
	var in urlconfig.PublishLayerVersionInput
	upload, err := s.decodeCode(r, &in, "Content", "ZipFile")
	if err != nil {
		return 0, nil, err
	}
	defer upload.Close()
	// As in createFunction: the upload replaces the placeholder.
	if upload != nil && in.Content != nil && in.Content.ZipFile != nil {
		in.Content.ZipFile, in.Content.Upload = nil, upload
	}
	in.LayerName = r.PathValue("LayerName")
	lv, hash, err := s.store.PublishLayerVersion(r.Context(), &in)
	_, out, err := s.withLocation(r, lv, hash, err)
	return http.StatusCreated, out, err
}

func (s *Server) getLayerVersion(r *http.Request) (int, any, error) {
	n, err := versionNumber(r)
	if err != nil {
		return 0, nil, err
	}
	lv, hash, err := s.store.GetLayerVersion(r.Context(), r.PathValue("LayerName"), n)
	return s.withLocation(r, lv, hash, err)
}

// listLayersOrFind is ListLayers, or GetLayerVersionByArn when the query
// says find=LayerVersion.
func (s *Server) listLayersOrFind(r *http.Request) (int, any, error) {
	if r.URL.Query().Get("find") == "LayerVersion" {
		if err := s.authorizeBody(r, "GetLayerVersionByArn", "", nil); err != nil {
			return 0, nil, err
		}
		lv, hash, err := s.store.GetLayerVersionByArn(r.Context(), r.URL.Query().Get("Arn"))
		return s.withLocation(r, lv, hash, err)
	}
	if err := s.authorizeBody(r, "ListLayers", "", nil); err != nil {
		return 0, nil, err
	}
	maxItems, err := queryInt(r, "MaxItems", "maxItems")
	if err != nil {
		return 0, nil, err
	}
	out, err := s.store.ListLayers(r.Context(), &urlconfig.ListLayersInput{
		CompatibleRuntime:      query(r, "CompatibleRuntime"),
		CompatibleArchitecture: query(r, "CompatibleArchitecture"),
		Marker:                 query(r, "Marker"),
		MaxItems:               maxItems,
	})
	return http.StatusOK, out, err
}

func (s *Server) listLayerVersions(r *http.Request) (int, any, error) {
	maxItems, err := queryInt(r, "MaxItems", "maxItems")
	if err != nil {
		return 0, nil, err
	}
	out, err := s.store.ListLayerVersions(r.Context(), &urlconfig.ListLayerVersionsInput{
		LayerName:              r.PathValue("LayerName"),
		CompatibleRuntime:      query(r, "CompatibleRuntime"),
		CompatibleArchitecture: query(r, "CompatibleArchitecture"),
		Marker:                 query(r, "Marker"),
		MaxItems:               maxItems,
	})
	return http.StatusOK, out, err
}

func (s *Server) deleteLayerVersion(r *http.Request) (int, any, error) {
	n, err := versionNumber(r)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, s.store.DeleteLayerVersion(r.Context(), r.PathValue("LayerName"), n)
}

func (s *Server) addLayerVersionPermission(r *http.Request) (int, any, error) {
	n, err := versionNumber(r)
	if err != nil {
		return 0, nil, err
	}
	var in urlconfig.AddLayerVersionPermissionInput
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	in.LayerName, in.VersionNumber, in.RevisionId = r.PathValue("LayerName"), n, query(r, "RevisionId")
	out, err := s.store.AddLayerVersionPermission(r.Context(), &in)
	return http.StatusCreated, out, err
}

func (s *Server) getLayerVersionPolicy(r *http.Request) (int, any, error) {
	n, err := versionNumber(r)
	if err != nil {
		return 0, nil, err
	}
	out, err := s.store.GetLayerVersionPolicy(r.Context(), r.PathValue("LayerName"), n)
	return http.StatusOK, out, err
}

func (s *Server) removeLayerVersionPermission(r *http.Request) (int, any, error) {
	n, err := versionNumber(r)
	if err != nil {
		return 0, nil, err
	}
	err = s.store.RemoveLayerVersionPermission(r.Context(), r.PathValue("LayerName"), n, r.PathValue("StatementId"), query(r, "RevisionId"))
	return http.StatusNoContent, nil, err
}
