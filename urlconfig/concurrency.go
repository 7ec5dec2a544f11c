package urlconfig

import (
	"context"

	bolt "go.etcd.io/bbolt"
)

// AWS's account limits on code, reported by GetAccountSettings.
const (
	accountTotalCodeSize = 80530636800
	accountCodeUnzipped  = MaxUnzippedCodeSize
	accountCodeZipped    = MaxZippedCodeSize
)

// PutFunctionConcurrencyInput is PutFunctionConcurrency's request;
// FunctionName comes from the path.
type PutFunctionConcurrencyInput struct {
	FunctionName                 string `json:"-"`
	ReservedConcurrentExecutions *int   `json:"ReservedConcurrentExecutions"`
}

// AccountSettings is GetAccountSettings' answer.
type AccountSettings struct {
	AccountLimit AccountLimit `json:"AccountLimit"`
	AccountUsage AccountUsage `json:"AccountUsage"`
}

type AccountLimit struct {
	TotalCodeSize                  int64 `json:"TotalCodeSize"`
	CodeSizeUnzipped               int64 `json:"CodeSizeUnzipped"`
	CodeSizeZipped                 int64 `json:"CodeSizeZipped"`
	ConcurrentExecutions           int   `json:"ConcurrentExecutions"`
	UnreservedConcurrentExecutions int   `json:"UnreservedConcurrentExecutions"`
}

type AccountUsage struct {
	TotalCodeSize int64 `json:"TotalCodeSize"`
	FunctionCount int64 `json:"FunctionCount"`
}

// minUnreserved is how much of the account limit must stay unreserved:
// 100, or the whole limit for accounts smaller than that.
func (s *Store) minUnreserved() int {
	return min(minUnreservedConcurrency, s.limit)
}

// PutFunctionConcurrency reserves concurrency for a function. Zero is always
// allowed; otherwise the account must keep its minimum unreserved.
func (s *Store) PutFunctionConcurrency(ctx context.Context, in *PutFunctionConcurrencyInput) (*Concurrency, error) {
	ref, err := s.resolveName(in.FunctionName, nil, wholeFunction, func(v *violations) {
		if in.ReservedConcurrentExecutions == nil {
			v.required("reservedConcurrentExecutions")
		}
		v.intRange("reservedConcurrentExecutions", in.ReservedConcurrentExecutions, 0, -1)
	})
	if err != nil {
		return nil, err
	}
	n := *in.ReservedConcurrentExecutions
	err = s.update(func(t *txn) error {
		f, err := s.openFunction(t.Tx, ref.Name)
		if err != nil {
			return functionNotFound(s.account.QualifiedARN(ref.Name, LatestVersion))
		}
		if n > 0 {
			others, err := s.reservedBy(t.Tx, ref.Name)
			if err != nil {
				return err
			}
			if s.limit-others-n < s.minUnreserved() {
				return &Error{Type: ErrInvalidParameter, NoUserType: true,
					Message: "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [" + itoa(s.minUnreserved()) + "]."}
			}
		}
		f.rec.ReservedConcurrency = ptr(n)
		return f.saveRecord()
	})
	if err != nil {
		return nil, err
	}
	return &Concurrency{ReservedConcurrentExecutions: ptr(n)}, nil
}

// reservedBy sums the reservations of every function but except.
func (s *Store) reservedBy(tx *bolt.Tx, except string) (int, error) {
	total := 0
	err := s.eachFunction(tx, func(f *fnBucket) error {
		if f.name != except && f.rec.ReservedConcurrency != nil {
			total += *f.rec.ReservedConcurrency
		}
		return nil
	})
	return total, err
}

func (s *Store) eachFunction(tx *bolt.Tx, fn func(*fnBucket) error) error {
	return tx.Bucket(bucketFunctions).ForEachBucket(func(k []byte) error {
		f, err := s.openFunction(tx, string(k))
		if err != nil {
			return err
		}
		return fn(f)
	})
}

// GetFunctionConcurrency returns a function's reservation; an empty answer
// means none.
func (s *Store) GetFunctionConcurrency(ctx context.Context, functionName string) (*Concurrency, error) {
	ref, err := s.resolveName(functionName, nil, wholeFunction, nil)
	if err != nil {
		return nil, err
	}
	out := &Concurrency{}
	err = s.view(func(tx *bolt.Tx) error {
		f, err := s.openFunction(tx, ref.Name)
		if err != nil {
			return err
		}
		if f.rec.ReservedConcurrency != nil {
			out.ReservedConcurrentExecutions = ptr(*f.rec.ReservedConcurrency)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteFunctionConcurrency removes a function's reservation.
func (s *Store) DeleteFunctionConcurrency(ctx context.Context, functionName string) error {
	ref, err := s.resolveName(functionName, nil, wholeFunction, nil)
	if err != nil {
		return err
	}
	return s.update(func(t *txn) error {
		f, err := s.openFunction(t.Tx, ref.Name)
		if err != nil {
			return err
		}
		f.rec.ReservedConcurrency = nil
		return f.saveRecord()
	})
}

// GetAccountSettings reports the account's limits and usage. Every stored
// version counts its code, as on AWS.
func (s *Store) GetAccountSettings(ctx context.Context) (*AccountSettings, error) {
	out := &AccountSettings{AccountLimit: AccountLimit{
		TotalCodeSize:        accountTotalCodeSize,
		CodeSizeUnzipped:     accountCodeUnzipped,
		CodeSizeZipped:       accountCodeZipped,
		ConcurrentExecutions: s.limit,
	}}
	reserved := 0
	err := s.view(func(tx *bolt.Tx) error {
		return s.eachFunction(tx, func(f *fnBucket) error {
			out.AccountUsage.FunctionCount++
			if f.rec.ReservedConcurrency != nil {
				reserved += *f.rec.ReservedConcurrency
			}
			latest, err := f.latest()
			if err != nil {
				return err
			}
			out.AccountUsage.TotalCodeSize += latest.CodeSize
			vs, err := f.versions()
			if err != nil {
				return err
			}
			for _, v := range vs {
				out.AccountUsage.TotalCodeSize += v.CodeSize
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	out.AccountLimit.UnreservedConcurrentExecutions = s.limit - reserved
	return out, nil
}

// UnreservedConcurrency is the account's concurrency limit less every
// function's reservation: the executions that functions without a
// reservation share. It is read once per write to the store.
func (s *Store) UnreservedConcurrency(ctx context.Context) (int, error) {
	gen := s.gen.Load()
	if v, ok := s.unreserved.get("", gen); ok {
		return v, nil
	}
	reserved := 0
	err := s.view(func(tx *bolt.Tx) error {
		return s.eachFunction(tx, func(f *fnBucket) error {
			if f.rec.ReservedConcurrency != nil {
				reserved += *f.rec.ReservedConcurrency
			}
			return nil
		})
	})
	if err != nil {
		return 0, err
	}
	s.unreserved.put("", gen, s.limit-reserved)
	return s.limit - reserved, nil
}
