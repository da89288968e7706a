"""Synapse core: settings, database, models, security, services. Only core.ui imports streamlit."""
