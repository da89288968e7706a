"""Speech-to-text behind one interface: engines (whisper, sphinx, google), file decoding and the live
pipeline. Nothing here imports streamlit or touches the database."""
