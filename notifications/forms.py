"""Forms of notifications: template validation and write-only SMS credentials."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import NotificationTemplate, SmsAccount
from .services import RenderError, template_check


class NotificationTemplateForm(forms.ModelForm):
    class Meta:
        model = NotificationTemplate
        fields = ("event", "channel", "enabled", "subject", "body", "sms_template_code", "sms_params")

    def clean_sms_params(self):
        value = self.cleaned_data.get("sms_params") or {}
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise forms.ValidationError(_("短信模板参数必须是 {\"变量名\": \"模板\"} 形式的 JSON 对象"))
        return value

    def clean(self):
        data = super().clean()
        try:
            template_check(subject=data.get("subject", ""), body=data.get("body", ""),
                           sms_params=data.get("sms_params") or {})
        except RenderError as exc:
            raise forms.ValidationError(str(exc))
        return data


class SmsAccountForm(forms.ModelForm):
    access_key_id = forms.CharField(label=_("AccessKeyId"), required=False, max_length=100,
                                    help_text=_("留空保持不变"))
    access_key_secret = forms.CharField(label=_("AccessKeySecret"), required=False, max_length=200,
                                        widget=forms.PasswordInput(render_value=False), help_text=_("留空保持不变"))

    class Meta:
        model = SmsAccount
        fields = ("provider", "sign_name", "api_base_url", "region_id", "enabled")

    def clean(self):
        data = super().clean()
        creds = dict(self.instance.credentials or {}) if self.instance.pk else {}
        if data.get("access_key_id"):
            creds["access_key_id"] = data["access_key_id"].strip()
        if data.get("access_key_secret"):
            creds["access_key_secret"] = data["access_key_secret"].strip()
        if not creds.get("access_key_id") or not creds.get("access_key_secret"):
            raise forms.ValidationError(_("请填写 AccessKeyId 和 AccessKeySecret"))
        self.instance.credentials = creds
        return data
