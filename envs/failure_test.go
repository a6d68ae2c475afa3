package envs

import (
	"errors"
	"testing"
)

func TestRecoverFailure(t *testing.T) {
	cause := errors.New("child died")
	failing := func() (err error) {
		defer RecoverFailure(&err)
		panic(&Failure{Err: cause})
	}
	if err := failing(); !errors.Is(err, cause) || err.Error() != "child died" {
		t.Errorf("recovered %v, want the failure", err)
	}
	fine := func() (err error) {
		defer RecoverFailure(&err)
		return nil
	}
	if err := fine(); err != nil {
		t.Errorf("no panic: %v", err)
	}
	defer func() {
		if v := recover(); v != "other" {
			t.Errorf("another panic became %v", v)
		}
	}()
	func() (err error) {
		defer RecoverFailure(&err)
		panic("other")
	}()
}

func TestCheckGymKwargs(t *testing.T) {
	for _, tt := range []struct {
		s  string
		ok bool
	}{
		{`{}`, true},
		{`{"max_episode_steps": 200, "render_mode": null}`, true},
		{`[1]`, false},
		{`null`, false},
		{`3`, false},
		{`{"a": `, false},
		{`{} {}`, false},
	} {
		err := CheckGymKwargs(tt.s)
		if (err == nil) != tt.ok {
			t.Errorf("CheckGymKwargs(%s) = %v", tt.s, err)
		}
		if err := (Options{GymKwargs: tt.s}).Validate(); (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrOptions)) {
			t.Errorf("Validate with gym kwargs %s = %v", tt.s, err)
		}
	}
}
