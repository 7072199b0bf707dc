"""The review feature: tagging/, completeness/ and report/, registered by blueprint.py."""
