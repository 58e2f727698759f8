"""Output formats of a dependency audit, one module per format; the audit never formats.

``json`` (mlward's documented schema), ``sarif`` (SARIF 2.1.0), ``cyclonedx`` (CycloneDX
1.6 with VEX-style ``vulnerabilities``) and ``table`` (a Rich renderable).
"""
