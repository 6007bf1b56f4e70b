package openapi

import "fmt"

// Pages calls page with the NextToken of the previous answer ("" first) until
// an answer carries none. At most maxPages are read, and a repeated token is
// an error, so a server that keeps returning a NextToken cannot hold the
// function.
func Pages(op, resource string, maxPages int, page func(token string) (next, requestID string, err error)) error {
	seen := map[string]bool{}
	token := ""
	for range maxPages {
		next, requestID, err := page(token)
		if err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		if seen[next] {
			return &Error{Op: op, Resource: resource, RequestID: requestID, Class: Transient,
				Message: fmt.Sprintf("NextToken %q repeated", next)}
		}
		seen[next] = true
		token = next
	}
	return &Error{Op: op, Resource: resource, Class: Permanent, Message: fmt.Sprintf("more than %d pages", maxPages)}
}

// Unique is ids without empty and repeated IDs, in their first order.
func Unique(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
