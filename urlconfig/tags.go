package urlconfig

import (
	"context"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// TagResourceInput is TagResource's request; Resource comes from the path.
type TagResourceInput struct {
	Resource string            `json:"-"`
	Tags     map[string]string `json:"Tags"`
}

// ListTagsOutput is ListTags' answer.
type ListTagsOutput struct {
	Tags map[string]string `json:"Tags"`
}

// tagRef validates a taggable resource ARN and finds the function it
// names. Only functions can be tagged in furl, and only unqualified.
func (s *Store) tagRef(resource string, more func(*violations)) (funcRef, error) {
	var v violations
	v.str("resource", resource, 1, 256, &patTaggableResource)
	if more != nil {
		more(&v)
	}
	if err := v.err(); err != nil {
		return funcRef{}, err
	}
	if !strings.Contains(resource, ":function:") {
		return funcRef{}, notFound("The resource you requested does not exist.")
	}
	ref, err := s.account.parseFunctionName(resource, patFunctionName, 256)
	if err != nil {
		return funcRef{}, err
	}
	if ref.Qualifier != "" {
		return funcRef{}, invalidParam("Tags on function aliases and versions are not supported. Please specify a function ARN.")
	}
	return ref, nil
}

// TagResource adds or overwrites a function's tags.
func (s *Store) TagResource(ctx context.Context, in *TagResourceInput) error {
	ref, err := s.tagRef(in.Resource, func(v *violations) {
		if in.Tags == nil {
			v.required("tags")
		}
	})
	if err != nil {
		return err
	}
	if len(in.Tags) == 0 {
		return invalidParam("An error occurred and the request cannot be processed.")
	}
	return s.update(func(t *txn) error {
		f, err := s.openFunction(t.Tx, ref.Name)
		if err != nil {
			return err
		}
		if err := checkTags(f.rec.Tags, in.Tags); err != nil {
			return err
		}
		if f.rec.Tags == nil {
			f.rec.Tags = map[string]string{}
		}
		for k, v := range in.Tags {
			f.rec.Tags[k] = v
		}
		return s.tagsChanged(f)
	})
}

// UntagResource removes tags from a function; unknown keys are ignored.
func (s *Store) UntagResource(ctx context.Context, resource string, keys []string) error {
	ref, err := s.tagRef(resource, func(v *violations) {
		if len(keys) == 0 {
			v.required("tagKeys")
		}
		v.list("tagKeys", keys, -1, 1, 128)
	})
	if err != nil {
		return err
	}
	return s.update(func(t *txn) error {
		f, err := s.openFunction(t.Tx, ref.Name)
		if err != nil {
			return err
		}
		for _, k := range keys {
			delete(f.rec.Tags, k)
		}
		if len(f.rec.Tags) == 0 {
			f.rec.Tags = nil
		}
		return s.tagsChanged(f)
	})
}

// tagsChanged saves the record; a tag change gives $LATEST a new revision,
// as on AWS.
func (s *Store) tagsChanged(f *fnBucket) error {
	latest, err := f.latest()
	if err != nil {
		return err
	}
	latest.RevisionId = newRevisionID()
	if err := f.putLatest(latest); err != nil {
		return err
	}
	return f.saveRecord()
}

// ListTags returns a function's tags.
func (s *Store) ListTags(ctx context.Context, resource string) (*ListTagsOutput, error) {
	ref, err := s.tagRef(resource, nil)
	if err != nil {
		return nil, err
	}
	out := &ListTagsOutput{Tags: map[string]string{}}
	err = s.view(func(tx *bolt.Tx) error {
		f, err := s.openFunction(tx, ref.Name)
		if err != nil {
			return err
		}
		for k, v := range f.rec.Tags {
			out.Tags[k] = v
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
