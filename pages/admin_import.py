"""Import patients from a CSV file: every row is checked first; nothing is imported unless all are valid."""

import streamlit as st

from core import ui
from core.services import patient_import

ui.current_actor()
st.title("Import patients")
st.write("Columns: " + ", ".join(f"`{c}`" for c in patient_import.COLUMNS) + ". `full_name` and `date_of_birth` "
         "(YYYY-MM-DD) are required; `sex` is female, male, intersex or unknown; `assigned_doctor` is a doctor's "
         "username; `consent_recording` is yes or no. UTF-8, comma-separated, one header row.")

errors = ui.FieldErrors()
with st.form("import"):
    upload = st.file_uploader("CSV file", type=["csv"])
    errors.slot("file")
    skip = st.checkbox("Import the valid rows and give me the invalid ones back")
    go = st.form_submit_button("Check and import", type="primary")

if go:
    if upload is None:
        st.error("Choose a CSV file first.")
    else:
        ok, report = ui.attempt(patient_import.import_patients, errors=errors, content=upload.getvalue(), skip_invalid=skip)
        if ok and report:
            if report.rejected and not skip:
                st.error(f"{len(report.rejected)} of {report.rows} rows are invalid, so nothing was imported.")
            else:
                st.success(f"Imported {report.imported} of {report.rows} patients.")
            if report.rejected:
                st.dataframe([{"Line": line, "Problem": reason} for line, reason in report.rejected],
                             hide_index=True, width="stretch")
            if report.rejects_csv:
                st.download_button("Download the rejected rows (holds patient data: delete after use)",
                                   data=report.rejects_csv, file_name="rejected-patients.csv", mime="text/csv")
