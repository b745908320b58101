"""What the public pages say, in Korean and in English, side by side so a translation is never missing."""

from __future__ import annotations

KO = {
    "brand_suffix": "주간 브리핑",
    "lang_ko": "한국어",
    "lang_en": "영어",
    "lang_both": "한국어와 영어 (두 언어판)",
    "lang_name_ko": "한국어",
    "lang_name_en": "영어",
    "lang_name_both": "한국어와 영어",
    "switch": "English",
    # subscribe
    "subscribe_title": "주간 브리핑 구독",
    "subscribe_intro": "매주 한 번, 한 주의 주요 기사를 골라 보내드립니다.",
    "email_label": "이메일 주소",
    "lang_legend": "받아 보실 언어",
    "subscribe_button": "구독 신청",
    "subscribe_note": "신청하시면 확인 메일을 먼저 보내드립니다. 메일의 링크를 눌러야 구독이 시작됩니다. "
                      "동의 기록으로 주소, 언어, 신청 시각과 IP 주소를 보관하며, 모든 메일에서 한 번에 구독을 "
                      "취소할 수 있습니다.",
    "error_email": "올바른 이메일 주소를 입력해 주세요.",
    "error_lang": "받아 보실 언어를 골라 주세요.",
    "error_form_expired": "양식이 만료되었습니다. 다시 한 번 눌러 주세요.",
    "rate_limited_title": "잠시 후 다시 시도해 주세요",
    "rate_limited_body": "이 네트워크에서 신청이 너무 많이 들어왔습니다. {minutes}분쯤 뒤에 다시 시도해 주세요.",
    "sent_title": "메일함을 확인해 주세요",
    "sent_body": "{email} 주소로 구독 확인 링크를 보내드렸습니다. 링크는 7일 동안 유효하며, 링크를 누르셔야 "
                 "구독이 시작됩니다. 메일이 보이지 않으면 스팸함도 확인해 주세요.",
    # confirm
    "confirmed_title": "구독이 확인되었습니다",
    "confirmed_body": "이제 매주 주간 브리핑을 {lang}로 보내드립니다.",
    "preferences_link": "구독 설정 (언어 변경, 구독 취소)",
    # unsubscribe
    "unsubscribe_title": "구독 취소",
    "unsubscribe_question": "구독을 취소하시겠습니까?",
    "unsubscribe_explain": "아래 버튼을 누르면 주간 브리핑 발송이 중단됩니다.",
    "unsubscribe_button": "구독 취소",
    "unsubscribed_title": "구독이 취소되었습니다",
    "unsubscribed_body": "더 이상 주간 브리핑을 보내드리지 않습니다.",
    "unsubscribed_other": "구독이 취소되었습니다.",
    "unsubscribe_other": "버튼을 누르면 구독이 취소됩니다.",
    "resubscribe_hint": "마음이 바뀌셨나요? 구독 설정에서 다시 구독하실 수 있습니다.",
    # preferences
    "preferences_title": "구독 설정",
    "preferences_for": "{email} 주소의 구독 설정입니다.",
    "status_active": "주간 브리핑을 {lang}로 받고 계십니다.",
    "status_pending": "구독 확인을 기다리고 있습니다. 확인 메일의 링크를 눌러 주세요.",
    "status_unsubscribed": "구독을 취소하셨습니다. 주간 브리핑을 보내드리지 않습니다.",
    "status_suppressed": "이 주소로는 메일을 보낼 수 없습니다 (반송되었거나 스팸으로 신고됨). 다시 받아 보시려면 "
                         "저희에게 연락해 주세요.",
    "lang_save": "언어 저장",
    "resubscribe_button": "다시 구독",
    "saved_lang": "언어를 저장했습니다.",
    "saved_unsubscribe": "구독이 취소되었습니다.",
    "saved_resubscribe": "다시 구독하셨습니다. 다음 호부터 보내드립니다.",
    "error_suppressed": "이 주소는 반송 또는 스팸 신고로 발송이 중단되어 다시 구독할 수 없습니다.",
    "error_action": "요청을 처리할 수 없습니다. 다시 시도해 주세요.",
    "preferences_other": "구독 설정 페이지입니다.",
}

EN = {
    "brand_suffix": "Weekly",
    "lang_ko": "Korean",
    "lang_en": "English",
    "lang_both": "Korean and English (bilingual edition)",
    "lang_name_ko": "Korean",
    "lang_name_en": "English",
    "lang_name_both": "Korean and English",
    "switch": "한국어",
    "subscribe_title": "Subscribe to the weekly digest",
    "subscribe_intro": "Once a week, the week's most important stories.",
    "email_label": "Email address",
    "lang_legend": "Language",
    "subscribe_button": "Subscribe",
    "subscribe_note": "We first send you an email to confirm: your subscription starts when you follow its "
                      "link. As a record of your consent we keep your address, language, and the time and IP "
                      "address of your sign-up. Every email has a one-click unsubscribe link.",
    "error_email": "Please enter a valid email address.",
    "error_lang": "Please choose a language.",
    "error_form_expired": "The form expired. Please submit it once more.",
    "rate_limited_title": "Please try again later",
    "rate_limited_body": "Too many sign-ups came from this network. Please try again in about {minutes} minutes.",
    "sent_title": "Check your inbox",
    "sent_body": "We sent a link to confirm your subscription to {email}. It is valid for 7 days, and "
                 "nothing is sent until you follow it. If you cannot see it, look in your spam folder.",
    "confirmed_title": "Your subscription is confirmed",
    "confirmed_body": "You will receive the weekly digest in {lang}.",
    "preferences_link": "Preferences (language, unsubscribe)",
    "unsubscribe_title": "Unsubscribe",
    "unsubscribe_question": "Unsubscribe from the weekly digest?",
    "unsubscribe_explain": "Press the button and we will stop sending it.",
    "unsubscribe_button": "Unsubscribe",
    "unsubscribed_title": "You are unsubscribed",
    "unsubscribed_body": "You will not receive the weekly digest any more.",
    "unsubscribed_other": "You are unsubscribed.",
    "unsubscribe_other": "Press the button to unsubscribe from the weekly digest.",
    "resubscribe_hint": "Changed your mind? You can subscribe again in your preferences.",
    "preferences_title": "Preferences",
    "preferences_for": "Subscription preferences for {email}.",
    "status_active": "You receive the weekly digest in {lang}.",
    "status_pending": "Your subscription awaits confirmation: please follow the link in the email we sent.",
    "status_unsubscribed": "You are unsubscribed: we do not send you the weekly digest.",
    "status_suppressed": "We cannot send mail to this address (it bounced or was reported as spam). "
                         "Contact us to receive the digest again.",
    "lang_save": "Save language",
    "resubscribe_button": "Subscribe again",
    "saved_lang": "Your language is saved.",
    "saved_unsubscribe": "You are unsubscribed.",
    "saved_resubscribe": "You are subscribed again, from the next issue on.",
    "error_suppressed": "Mail to this address bounced or was reported as spam, so it cannot be subscribed again.",
    "error_action": "We could not do that. Please try again.",
    "preferences_other": "This is your preferences page.",
}

TEXTS = {"ko": KO, "en": EN}
