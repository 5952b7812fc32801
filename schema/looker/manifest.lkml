# fleetscan's Looker project manifest.
# Set PROJECT and DATASET to the BigQuery dataset fleetscan writes to
# (fleetscan scan --bigquery PROJECT.DATASET).

project_name: "fleetscan"

constant: PROJECT {
  value: "my-project"
  export: override_optional
}

constant: DATASET {
  value: "fleetscan"
  export: override_optional
}
