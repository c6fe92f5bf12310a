from .pretrained import PretrainedErrorMixin, pretrained_fetch_help, pretrained_source

__all__ = ['PretrainedErrorMixin', 'pretrained_fetch_help', 'pretrained_source']
