"""Converters from rep-deploy ONNX to other formats (installed as ``rep_deploy.converters``)."""
