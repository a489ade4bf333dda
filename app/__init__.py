"""The Streamlit pages. Pages call cnnlib and draw what it returns; they compute nothing."""
