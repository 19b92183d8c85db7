"""Infrastructure: where a deployment runs. ``kubernetes.py`` renders a deployment as Kubernetes
manifests (Deployment + Service + HorizontalPodAutoscaler, or a KServe InferenceService) and
applies them with server-side apply; the local process runtime lives in ``serving/``."""
