package scanner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrListShape is returned by SplitList for JSON that is neither an array
// nor an object; the caller says what it wanted.
var ErrListShape = errors.New("wrong shape")

// SplitList reads a file that holds a list, as gcloud and the APIs write
// them: a JSON array, or a list response holding the array under key. For
// an object without key it returns the object's fields as rest (and no
// items) for the caller to decide: one item, or an empty response. name and
// noun ("clusters", "log entries") are used in messages.
func SplitList(name string, data []byte, key, noun string) (items []json.RawMessage, rest map[string]json.RawMessage, err error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, nil, fmt.Errorf("%s: file is empty", name)
	}
	switch data[0] {
	case '[':
		if err := json.Unmarshal(data, &items); err != nil {
			return nil, nil, fmt.Errorf("%s: invalid JSON: %v", name, jsonError(err))
		}
		return items, nil, nil
	case '{':
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(data, &obj); err != nil {
			return nil, nil, fmt.Errorf("%s: invalid JSON: %v", name, jsonError(err))
		}
		list, ok := obj[key]
		if !ok {
			return nil, obj, nil
		}
		if err := json.Unmarshal(list, &items); err != nil {
			return nil, nil, fmt.Errorf("%s: %q is not an array of %s", name, key, noun)
		}
		return items, nil, nil
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, nil, fmt.Errorf("%s: invalid JSON: %v", name, jsonError(err))
	}
	return nil, nil, fmt.Errorf("%s: %w", name, ErrListShape)
}

// jsonError adds the byte offset to a syntax error.
func jsonError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%v at byte %d", se, se.Offset)
	}
	return err
}
