"""Use cases: keyword-only functions taking a session and an actor. They check the actor's role, validate
input, write the audit log and never import streamlit."""
