package lang

import (
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/database-replicator/database-replicator/lang/diag"
)

// Diagnostic codes of the configuration language, one per rule. They are
// stable: scripts and tests match them, and docs/diagnostics.md explains
// each one and its fix. The HCL, TOML and flag front ends share a code when
// they enforce the same rule.
const (
	// CodeUnreadable: a configuration file or directory cannot be read.
	CodeUnreadable diag.Code = "config.unreadable"
	// CodeNoFiles: a configuration directory holds no *.hcl file.
	CodeNoFiles diag.Code = "config.no-files"
	// CodeSyntax: the HCL does not parse.
	CodeSyntax diag.Code = "config.syntax"
	// CodeTOMLSyntax: the predecessor's TOML does not parse.
	CodeTOMLSyntax diag.Code = "config.toml-syntax"
	// CodeUnsupportedArgument: an attribute the block does not take.
	CodeUnsupportedArgument diag.Code = "config.unsupported-argument"
	// CodeUnsupportedBlock: a block type that is not allowed here.
	CodeUnsupportedBlock diag.Code = "config.unsupported-block"
	// CodeDuplicateArgument: an attribute set twice in one block.
	CodeDuplicateArgument diag.Code = "config.duplicate-argument"
	// CodeBlockLabels: a block with missing or extra labels.
	CodeBlockLabels diag.Code = "config.block-labels"
	// CodeInvalidExpression: an expression that cannot be evaluated (unknown
	// function or variable, function error, bad operand).
	CodeInvalidExpression diag.Code = "config.invalid-expression"
	// CodeFunctionError: env() or file() (or another function) failed,
	// e.g. an environment variable that is not set.
	CodeFunctionError diag.Code = "config.function-error"
	// CodeNoReplication: the configuration has no replication block.
	CodeNoReplication diag.Code = "config.no-replication"
	// CodeInvalidName: a block name that is not an identifier.
	CodeInvalidName diag.Code = "config.invalid-name"
	// CodeDuplicateBlock: a block declared twice (same name, or a block
	// allowed once).
	CodeDuplicateBlock diag.Code = "config.duplicate-block"
	// CodeMissingAttribute: a required attribute is missing.
	CodeMissingAttribute diag.Code = "config.missing-attribute"
	// CodeEmptyValue: a string or list entry that must not be empty is.
	CodeEmptyValue diag.Code = "config.empty-value"
	// CodeEmptyList: a list that selects what to replicate is empty.
	CodeEmptyList diag.Code = "config.empty-list"
	// CodeNullValue: an attribute set to null.
	CodeNullValue diag.Code = "config.null-value"
	// CodeWrongType: a value of the wrong type.
	CodeWrongType diag.Code = "config.wrong-type"
	// CodeInvalidNumber: a number that is not whole or out of range.
	CodeInvalidNumber diag.Code = "config.invalid-number"
	// CodeInvalidChoice: a value that is not one of the allowed words.
	CodeInvalidChoice diag.Code = "config.invalid-choice"
	// CodeInvalidInterval: an interval such as "90s" that does not parse.
	CodeInvalidInterval diag.Code = "config.invalid-interval"
	// CodeInvalidSize: a size such as "1GiB" that does not parse.
	CodeInvalidSize diag.Code = "config.invalid-size"
	// CodeInvalidTimeWindow: a time window such as "90 days" that does not parse.
	CodeInvalidTimeWindow diag.Code = "config.invalid-time-window"
	// CodeNameTooLong: a PostgreSQL name longer than 63 bytes.
	CodeNameTooLong diag.Code = "config.name-too-long"
	// CodeStateBackendAttribute: a state attribute the chosen backend does not take.
	CodeStateBackendAttribute diag.Code = "config.state-backend-attribute"
	// CodeUndeclaredVariable: var.NAME refers to no variable block.
	CodeUndeclaredVariable diag.Code = "config.undeclared-variable"
	// CodeUndeclaredVariableValue: --var sets a variable nobody declares.
	CodeUndeclaredVariableValue diag.Code = "config.undeclared-variable-value"
	// CodeVariableNoValue: a variable without default gets no value.
	CodeVariableNoValue diag.Code = "config.variable-no-value"
	// CodeInvalidVariableValue: a --var or environment value does not fit
	// the variable's type.
	CodeInvalidVariableValue diag.Code = "config.invalid-variable-value"
	// CodeMissingEndpoint: a replication without source or target.
	CodeMissingEndpoint diag.Code = "config.missing-endpoint"
	// CodeInvalidEndpointReference: source/target is not source.NAME/target.NAME.
	CodeInvalidEndpointReference diag.Code = "config.invalid-endpoint-reference"
	// CodeUndeclaredEndpoint: source.NAME/target.NAME refers to no block.
	CodeUndeclaredEndpoint diag.Code = "config.undeclared-endpoint"
	// CodeMutuallyExclusive: two settings that cannot be combined.
	CodeMutuallyExclusive diag.Code = "config.mutually-exclusive"
	// CodeDuplicateEntry: a database or table listed twice (warning).
	CodeDuplicateEntry diag.Code = "config.duplicate-entry"
	// CodeInvalidDatabaseName: a database name or list that does not parse.
	CodeInvalidDatabaseName diag.Code = "config.invalid-database-name"
	// CodeInvalidTableReference: a table reference that does not parse.
	CodeInvalidTableReference diag.Code = "config.invalid-table-reference"
	// CodeInvalidFilter: a --table-filter/--time-filter or TOML filter
	// entry that does not parse, or a row filter (where) that is not one
	// SQL expression (CheckRowFilterSyntax).
	CodeInvalidFilter diag.Code = "config.invalid-filter"
	// CodeTableNotInDatabases: a table in a database the replication does
	// not list.
	CodeTableNotInDatabases diag.Code = "config.table-not-in-databases"
	// CodeTableInExcludedDatabase: a table in an excluded database.
	CodeTableInExcludedDatabase diag.Code = "config.table-in-excluded-database"
	// CodeSchemaOnlyExcluded: a schema-only table that is excluded.
	CodeSchemaOnlyExcluded diag.Code = "config.schema-only-excluded"
	// CodeSchemaOnlyNotIncluded: a schema-only table that include_tables leaves out.
	CodeSchemaOnlyNotIncluded diag.Code = "config.schema-only-not-included"
	// CodeSettingsExcludedTable: settings or a filter for an excluded table.
	CodeSettingsExcludedTable diag.Code = "config.settings-excluded-table"
	// CodeSettingsNotIncludedTable: settings or a filter for a table that
	// include_tables leaves out.
	CodeSettingsNotIncludedTable diag.Code = "config.settings-not-included-table"
	// CodeFilterOnSchemaOnly: a row filter on a schema-only table.
	CodeFilterOnSchemaOnly diag.Code = "config.filter-on-schema-only"
	// CodeDuplicateFilter: two row filters for one table.
	CodeDuplicateFilter diag.Code = "config.duplicate-filter"
	// CodeFilterMatchesNoTable: a wildcard filter that applies to no table.
	CodeFilterMatchesNoTable diag.Code = "config.filter-matches-no-table"
	// CodeSharedReplicationObjects: two replications use the same
	// publication or subscription on one source (warning).
	CodeSharedReplicationObjects diag.Code = "config.shared-replication-objects"
	// CodeOverlappingTargets: two replications write the same database to
	// one target (warning).
	CodeOverlappingTargets diag.Code = "config.overlapping-targets"
	// CodeInvalidRemapTarget: a table or schema block's target that does
	// not parse, or names the source itself.
	CodeInvalidRemapTarget diag.Code = "config.invalid-remap-target"
	// CodeRemapCollision: two source tables or schemas remapped onto one
	// target name.
	CodeRemapCollision diag.Code = "config.remap-collision"
	// CodeRemapNeedsStream: a remapping with a sync method other than
	// stream.
	CodeRemapNeedsStream diag.Code = "config.remap-needs-stream"
	// CodeTOMLUnknownKey: a TOML key the predecessor's format does not have.
	CodeTOMLUnknownKey diag.Code = "config.toml-unknown-key"
)

// hclCodes gives a code to the diagnostics that HCL itself produces while
// decoding block bodies and evaluating expressions, by their summary.
var hclCodes = map[string]diag.Code{
	"Unsupported argument":      CodeUnsupportedArgument,
	"Unsupported block type":    CodeUnsupportedBlock,
	"Duplicate argument":        CodeDuplicateArgument,
	"Missing required argument": CodeMissingAttribute,
	"Error in function call":    CodeFunctionError,
	"Invalid function argument": CodeFunctionError,
}

// hclCode is the fallback code of an HCL diagnostic that carries none:
// by summary, else CodeInvalidExpression, since what remains comes from
// evaluating expressions (unknown functions or variables, function errors,
// operands).
func hclCode(d *hcl.Diagnostic) diag.Code {
	s := d.Summary
	if c, ok := hclCodes[s]; ok {
		return c
	}
	switch {
	case strings.HasPrefix(s, "Extraneous label for "),
		strings.HasPrefix(s, "Missing ") && strings.Contains(s, " for "): // "Missing name for source"
		return CodeBlockLabels
	case strings.HasPrefix(s, "Unexpected ") && strings.HasSuffix(s, " block"):
		return CodeUnsupportedBlock
	}
	return CodeInvalidExpression
}

// withCode gives code to the diagnostics that carry none (such as the
// syntax errors of the HCL parser), in place, and returns them.
func withCode(hds hcl.Diagnostics, code diag.Code) hcl.Diagnostics {
	for _, d := range hds {
		if d != nil && d.Extra == nil {
			d.Extra = diag.WithCode(code)
		}
	}
	return hds
}

// fromHCL converts the HCL diagnostics of a public function, giving every
// one a code.
func fromHCL(hds hcl.Diagnostics) diag.Diagnostics {
	return diag.FromHCL(hds, hclCode)
}
