# ruff: noqa: E501  (prose data: long lines read better unwrapped)
"""The words of the demo: a fictional retailer's support assistant, its topics, tools and KB.

Everything here is data. Templates hold ``{placeholders}`` filled per trace from entity
columns (see :mod:`tracemark.demo.generate`); the JSON templates of tool arguments and
results are compact (no spaces), as model APIs emit them.
"""

from __future__ import annotations

from dataclasses import dataclass

COMPANY = "Northwind"
AGENT_NAME = "northwind-support"


@dataclass(frozen=True)
class Model:
    """A chat model with its provider, list prices (USD per million tokens) and speed."""

    name: str
    provider: str
    price_in: float
    price_out: float
    ttft_ms: float  # median time to first token
    ms_per_token: float  # median time per output token
    failure_factor: float  # multiplies the chance of a planted failure


MODELS: tuple[Model, ...] = (
    Model("gpt-4o-2024-08-06", "openai", 2.50, 10.00, 420.0, 11.0, 1.0),
    Model("gpt-4o-mini-2024-07-18", "openai", 0.15, 0.60, 300.0, 7.0, 1.7),
    Model("claude-3-5-sonnet-20241022", "anthropic", 3.00, 15.00, 650.0, 13.0, 0.8),
    Model("claude-3-5-haiku-20241022", "anthropic", 0.80, 4.00, 380.0, 8.0, 1.5),
    Model("gemini-1.5-flash-002", "google", 0.075, 0.30, 280.0, 5.0, 1.9),
    Model("mistral-large-2411", "mistralai", 2.00, 6.00, 520.0, 12.0, 1.2),
)
#: Probability of each model per customer tier (free, pro, enterprise).
MODEL_WEIGHTS_BY_TIER: tuple[tuple[float, ...], ...] = (
    (0.05, 0.45, 0.00, 0.20, 0.25, 0.05),
    (0.35, 0.20, 0.15, 0.15, 0.05, 0.10),
    (0.40, 0.00, 0.45, 0.05, 0.00, 0.10),
)
EMBEDDING_MODEL = Model("text-embedding-3-small", "openai", 0.02, 0.0, 40.0, 0.0, 1.0)
JUDGE_MODEL = "gpt-4o-2024-08-06"

TIERS = ("free", "pro", "enterprise")
TIER_WEIGHTS = (0.6, 0.3, 0.1)
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
REGION_WEIGHTS = (0.5, 0.3, 0.2)
ROUTES = ("/chat", "/help-widget", "/email", "/api/v1/answer")
ROUTE_WEIGHTS = (0.55, 0.25, 0.12, 0.08)
APP_VERSIONS = ("2.3.0", "2.3.1", "2.4.0")
FEATURE_FLAGS = ("new-retriever", "streaming", "tool-router-v2")
FEATURE_FLAG_RATES = (0.3, 0.5, 0.2)

#: Planted failure modes; index 0 means none. The generator records the name in the root
#: span's metadata as ``{"demo": {"failure_mode": ...}}``. The names are those of the starter
#: labeling schema (:data:`tracemark.analysis.FAILURE_MODES`), so labels compare directly.
FAILURE_MODES = (
    "none",
    "hallucinated_reference",
    "irrelevant_response",
    "overly_verbose",
    "wrong_tool_use",
    "tone_mismatch",
)
FAILURE_WEIGHTS = (0.0, 0.28, 0.2, 0.2, 0.16, 0.16)

FIRST_NAMES = (
    "Ava", "Liam", "Maya", "Noah", "Priya", "Lucas", "Sofia", "Mateo", "Chloe", "Ethan",
    "Amara", "Jonas", "Yuki", "Omar", "Elena", "Kofi", "Hannah", "Diego", "Mei", "Samir",
    "Grace", "Tomás", "Leila", "Owen", "Ines", "Ravi", "Nora", "Felix", "Zara", "Arjun",
)  # fmt: skip
PRODUCTS = (
    "Aurora smart hub", "Lumen desk lamp", "Breeze air purifier", "Pulse fitness band",
    "Echo-Lite speaker", "Terra robot vacuum", "Nimbus Wi-Fi mesh kit", "Vista 4K webcam",
    "Orbit wireless charger", "Cascade espresso maker", "Quill e-reader", "Halo doorbell camera",
)  # fmt: skip
CARRIERS = ("UPS", "FedEx", "DHL", "USPS")
CITIES = ("Memphis, TN", "Louisville, KY", "Reno, NV", "Columbus, OH", "Allentown, PA")
PLANS = ("Basic", "Plus", "Premium")
PLAN_PRICES = ("$4.99", "$9.99", "$19.99")


@dataclass(frozen=True)
class Tool:
    """A function the agent may call: its schema, argument and result templates, and what
    the assistant says after calling it when it was the wrong tool."""

    name: str
    description: str
    parameters: str  # JSON schema (compact)
    arguments: str  # compact JSON template
    result: str  # compact JSON template
    action: str  # "I've ..." sentence fragment


@dataclass(frozen=True)
class Topic:
    """One support topic: questions, answers, tools and knowledge-base documents."""

    name: str
    questions: tuple[str, ...]
    followups: tuple[str, ...]
    answers_tool: tuple[str, ...]
    answers_kb: tuple[str, ...]
    tools: tuple[Tool, ...]  # the first two are the topic's own; see GET_CUSTOMER
    docs: tuple[tuple[str, str], ...]  # (title, text)
    false_claims: tuple[str, ...]  # what a hallucinated reference asserts


def _schema(**props: str) -> str:
    inner = ",".join(f'"{k}":{{"type":"{v}"}}' for k, v in props.items())
    required = ",".join(f'"{k}"' for k in props)
    return f'{{"type":"object","properties":{{{inner}}},"required":[{required}]}}'


GET_CUSTOMER = Tool(
    "get_customer",
    "Look up a customer record by email address.",
    _schema(email="string"),
    '{"email":"{email}"}',
    '{"customer_id":"{customer_id}","name":"{name}","tier":"{tier}","region":"{region}"}',
    "looked up your customer profile",
)

TOPICS: tuple[Topic, ...] = (
    Topic(
        "shipping",
        questions=(
            "Where is my order {order_id}? It was supposed to arrive by {eta}.",
            "Hi, I ordered a {product} on {order_date} and the tracking hasn't updated in days. Order {order_id}.",
            "Can you tell me when order {order_id} will be delivered?",
            "My package still says 'label created'. Is something wrong with order {order_id}?",
            "hey where's my {product}?? order {order_id}",
            "I need the {product} before the weekend. Can you check on {order_id} and whether it can be expedited?",
        ),
        followups=(
            "Can you send the tracking link to {email}?",
            "What happens if it doesn't arrive by {eta}?",
            "Could it be delivered to a pickup point instead?",
        ),
        answers_tool=(
            "Your order {order_id} shipped with {carrier} (tracking {tracking}) and its last scan was in {city}. It is expected to arrive by {eta}.",
            "I checked order {order_id}: it's in transit with {carrier}, tracking number {tracking}. The current estimate is {eta}; the last update came from {city}.",
            "Good news, {name}: the {product} from order {order_id} is on its way. {carrier} shows it in {city}, with delivery expected by {eta}.",
        ),
        answers_kb=(
            "Standard shipping takes 3 to 5 business days after an order leaves our warehouse, and tracking can take up to 24 hours to show the first scan. If your order number is handy, I can look up its exact status.",
            "Orders usually ship within one business day and arrive 3 to 5 business days later. Express shipping (1 to 2 days) can be added before the order is packed.",
        ),
        tools=(
            Tool(
                "get_order_status",
                "Get the fulfilment status, carrier and tracking number of an order.",
                _schema(order_id="string"),
                '{"order_id":"{order_id}"}',
                '{"order_id":"{order_id}","status":"in_transit","carrier":"{carrier}","tracking_number":"{tracking}","eta":"{eta_iso}"}',
                "checked the shipping status of your last order",
            ),
            Tool(
                "track_shipment",
                "Get the latest carrier scans for a tracking number.",
                _schema(tracking_number="string", carrier="string"),
                '{"tracking_number":"{tracking}","carrier":"{carrier}"}',
                '{"tracking_number":"{tracking}","last_scan":"{city}","scans":4,"delivered":false}',
                "pulled the latest carrier scans for your shipment",
            ),
        ),
        docs=(
            (
                "Shipping times",
                "Standard shipping takes 3-5 business days after dispatch. Express shipping takes 1-2 business days and costs $14.99. Orders placed before 2 pm ship the same day.",
            ),
            (
                "Tracking updates",
                "Tracking numbers are emailed when the label is created. Carriers may take up to 24 hours to record the first scan. A status of 'label created' for more than 3 days should be escalated.",
            ),
            (
                "Late deliveries",
                "If a package is more than 5 business days late, customers may request a replacement or a refund of the shipping cost. Lost packages are reimbursed after the carrier's investigation (up to 8 days).",
            ),
            (
                "Delivery options",
                "Customers can redirect a package to a pickup point through the carrier's website once it is in transit. Northwind cannot change the address after dispatch.",
            ),
            (
                "International shipping",
                "We ship to 32 countries. International orders take 7-14 business days and may incur import duties paid by the recipient.",
            ),
            (
                "Expedited upgrades",
                "Shipping can be upgraded to express only before the order is packed. After packing, the shipping speed cannot be changed.",
            ),
        ),
        false_claims=(
            "all delayed orders are automatically refunded in full",
            "we guarantee next-day delivery on every order",
        ),
    ),
    Topic(
        "returns",
        questions=(
            "How do I return the {product} I bought last week? Order {order_id}.",
            "The {product} arrived damaged. I want to send it back.",
            "Is it too late to return order {order_id}? It was delivered {days} days ago.",
            "I'd like to return my {product}, it's not what I expected. Do I pay for the return shipping?",
            "return label for {order_id} please",
        ),
        followups=(
            "How long until I get my money back?",
            "Can I exchange it for a different color instead?",
            "Do I need the original box?",
        ),
        answers_tool=(
            "I've created return {rma} for order {order_id}. Your prepaid label is at https://returns.northwind.example/label/{rma}; drop the package at any {carrier} location within 14 days.",
            "Order {order_id} is eligible for a return. Return authorization {rma} is ready, and the label has been emailed to {email}. The refund is issued once the item reaches our warehouse.",
        ),
        answers_kb=(
            "Most items can be returned within 30 days of delivery in their original condition. Return shipping is free for damaged or defective items; otherwise a $6.95 label fee is deducted from the refund.",
            "You can start a return from the Orders page within 30 days of delivery. Refunds go back to the original payment method within 5 to 7 business days after we receive the item.",
        ),
        tools=(
            Tool(
                "get_order",
                "Get the items, delivery date and return eligibility of an order.",
                _schema(order_id="string"),
                '{"order_id":"{order_id}"}',
                '{"order_id":"{order_id}","items":[{"sku":"{sku}","name":"{product}"}],"delivered_days_ago":{days},"return_eligible":true}',
                "opened the details of your most recent order",
            ),
            Tool(
                "create_return_label",
                "Create a return authorization and a prepaid shipping label.",
                _schema(order_id="string", reason="string"),
                '{"order_id":"{order_id}","reason":"{return_reason}"}',
                '{"rma":"{rma}","label_url":"https://returns.northwind.example/label/{rma}","expires_in_days":14}',
                "started a return for your last order",
            ),
        ),
        docs=(
            (
                "Return window",
                "Items can be returned within 30 days of delivery. Opened electronics must include all accessories. Final-sale items cannot be returned.",
            ),
            (
                "Return shipping",
                "Return labels are free for damaged, defective or wrong items. For other returns a $6.95 label fee is deducted from the refund.",
            ),
            (
                "Refund timing",
                "Refunds are issued to the original payment method within 5-7 business days after the warehouse receives the item.",
            ),
            (
                "Exchanges",
                "Exchanges for a different color or size are processed as a return and a new order; the new order ships once the return is scanned by the carrier.",
            ),
            (
                "Damaged items",
                "Customers should report damaged items within 7 days with a photo. A replacement can ship before the damaged item is returned.",
            ),
            (
                "Packaging",
                "The original box is not required, but items must be packed securely. Damage caused by poor packing may reduce the refund.",
            ),
        ),
        false_claims=(
            "returns are accepted for 90 days with no questions asked",
            "you can keep the item and still receive a full refund",
        ),
    ),
    Topic(
        "billing",
        questions=(
            "I was charged twice for order {order_id}. Can you fix this?",
            "Why is there a charge of {amount} on my card from Northwind?",
            "The total on {order_id} is higher than what the checkout page showed.",
            "I need a refund for the duplicate charge of {amount}.",
            "can u explain the {amount} charge? i didnt order anything",
        ),
        followups=(
            "When will the refund show up on my statement?",
            "Can I get an invoice for my records?",
            "Will this happen again next month?",
        ),
        answers_tool=(
            "I see two charges of {amount} on order {order_id}: one captured and one pending authorization. The pending one will drop off automatically, and I've also issued refund {refund_id} to be safe.",
            "The {amount} charge belongs to order {order_id} placed on {order_date}. I've issued refund {refund_id} for the duplicate; it should appear on your statement within 5 business days.",
        ),
        answers_kb=(
            "A second charge is often a temporary authorization hold that disappears within 3 to 5 business days. If both charges are still there after that, we refund the duplicate right away.",
            "Charges appear as NORTHWIND*STORE on card statements. Taxes and shipping are added at checkout, so the final total can differ from the cart subtotal.",
        ),
        tools=(
            Tool(
                "list_charges",
                "List the card charges and authorizations for an order.",
                _schema(order_id="string"),
                '{"order_id":"{order_id}"}',
                '{"order_id":"{order_id}","charges":[{"amount":"{amount}","status":"captured"},{"amount":"{amount}","status":"pending_authorization"}]}',
                "reviewed the charges on your account",
            ),
            Tool(
                "issue_refund",
                "Refund an amount to the original payment method of an order.",
                _schema(order_id="string", amount="string"),
                '{"order_id":"{order_id}","amount":"{amount}"}',
                '{"refund_id":"{refund_id}","amount":"{amount}","status":"processing"}',
                "issued a refund to your card",
            ),
        ),
        docs=(
            (
                "Authorization holds",
                "Card issuers may show a temporary authorization hold in addition to the final charge. Holds disappear within 3-5 business days.",
            ),
            (
                "Duplicate charges",
                "Confirmed duplicate captures are refunded immediately. Refunds take up to 5 business days to appear on a statement.",
            ),
            (
                "Statement descriptor",
                "Northwind charges appear as NORTHWIND*STORE or NORTHWIND*PLUS for subscriptions.",
            ),
            (
                "Invoices",
                "Invoices can be downloaded from the Orders page. Business customers can add a VAT number before checkout.",
            ),
            (
                "Price adjustments",
                "If an item's price drops within 14 days of purchase, customers can request the difference once per order.",
            ),
            (
                "Payment methods",
                "We accept major credit cards, PayPal and Northwind gift cards. Split payments are not supported.",
            ),
        ),
        false_claims=(
            "every duplicate charge earns a $50 store credit",
            "refunds always appear on your statement within one hour",
        ),
    ),
    Topic(
        "account",
        questions=(
            "I can't log in to my account. The password reset email never arrives. My email is {email}.",
            "How do I turn on two-factor authentication?",
            "I think someone else logged into my account, I got an alert from a device I don't know.",
            "Please change the email on my account, I no longer use {email}.",
            "locked out of my account after too many attempts, help",
        ),
        followups=(
            "I still don't see the email, even in spam.",
            "How long does the reset link stay valid?",
            "Can you just delete the old device?",
        ),
        answers_tool=(
            "I found your account ({email}) and sent a fresh password reset link. It expires in 30 minutes, so please use it soon, and check your spam folder if it doesn't show up.",
            "Your account {email} is active and two-factor authentication is currently off. I've sent a reset link; once you're back in, you can enable 2FA under Settings > Security.",
        ),
        answers_kb=(
            "You can reset your password from the sign-in page with 'Forgot password'. The link is valid for 30 minutes. After 5 failed attempts the account is locked for 15 minutes.",
            "Two-factor authentication can be enabled under Settings > Security using an authenticator app or SMS. We recommend an authenticator app.",
        ),
        tools=(
            Tool(
                "get_account",
                "Get the status and security settings of an account by email.",
                _schema(email="string"),
                '{"email":"{email}"}',
                '{"email":"{email}","status":"active","mfa_enabled":false,"failed_logins":3}',
                "checked the security settings on your account",
            ),
            Tool(
                "send_password_reset",
                "Email a password reset link to the account's address.",
                _schema(email="string"),
                '{"email":"{email}"}',
                '{"sent":true,"expires_in_minutes":30}',
                "sent a password reset link to your email",
            ),
        ),
        docs=(
            (
                "Password reset",
                "Password reset links are valid for 30 minutes. Only the most recent link works.",
            ),
            (
                "Account lockout",
                "After 5 failed sign-in attempts an account is locked for 15 minutes. Support can unlock it after verifying the email address.",
            ),
            (
                "Two-factor authentication",
                "2FA can be enabled under Settings > Security with an authenticator app or SMS codes.",
            ),
            (
                "Suspicious activity",
                "Customers who see an unknown device should reset their password and sign out all devices from Settings > Security.",
            ),
            (
                "Changing email",
                "The account email can be changed under Settings > Profile after confirming the new address.",
            ),
            (
                "Email deliverability",
                "Reset emails come from no-reply@northwind.example and may land in spam or promotions folders.",
            ),
        ),
        false_claims=(
            "support can read you your current password",
            "reset links never expire",
        ),
    ),
    Topic(
        "subscription",
        questions=(
            "How do I upgrade from {plan} to {new_plan}?",
            "I'd like to downgrade, {plan} is more than I need. Can you move me to {new_plan}?",
            "What's the difference between {plan} and {new_plan}? Is it worth it?",
            "Why did my subscription renew? I thought I cancelled it.",
            "switch me to {new_plan} pls",
        ),
        followups=(
            "Will I be charged the full price today?",
            "Can I go back to {plan} later?",
            "Do I keep my benefits until the end of the month?",
        ),
        answers_tool=(
            "You're currently on {plan}. I've switched you to {new_plan} ({price} per month) effective immediately; the prorated difference will appear on your next invoice.",
            "Your {plan} plan renews on {eta}. I've changed it to {new_plan} at {price} a month, and you keep all current benefits in the meantime.",
        ),
        answers_kb=(
            "You can change or cancel your plan anytime under Account > Subscription. Upgrades take effect immediately with a prorated charge; cancellations take effect at the end of the billing period.",
            "{new_plan} adds free express shipping and extended warranties compared with {plan}. Plans can be switched anytime, and the price difference is prorated.",
        ),
        tools=(
            Tool(
                "get_subscription",
                "Get a customer's current plan, price and renewal date.",
                _schema(customer_id="string"),
                '{"customer_id":"{customer_id}"}',
                '{"customer_id":"{customer_id}","plan":"{plan}","renews_on":"{eta_iso}","auto_renew":true}',
                "looked at your subscription plan",
            ),
            Tool(
                "change_plan",
                "Move a customer to another subscription plan.",
                _schema(customer_id="string", plan="string"),
                '{"customer_id":"{customer_id}","plan":"{new_plan}"}',
                '{"plan":"{new_plan}","price":"{price}","effective":"immediately","prorated":true}',
                "changed your subscription plan",
            ),
        ),
        docs=(
            (
                "Plans",
                "Northwind Plus has three plans: Basic ($4.99/month), Plus ($9.99/month) and Premium ($19.99/month).",
            ),
            (
                "Upgrades",
                "Upgrades take effect immediately; the price difference is prorated on the next invoice.",
            ),
            (
                "Cancellation",
                "Cancellations take effect at the end of the current billing period. Benefits remain active until then.",
            ),
            (
                "Renewals",
                "Subscriptions renew automatically. A reminder email is sent 3 days before renewal.",
            ),
            (
                "Premium benefits",
                "Premium includes free express shipping, a 2-year extended warranty and priority support.",
            ),
            (
                "Refunds for renewals",
                "A renewal charged in the last 48 hours can be refunded if no benefits were used.",
            ),
        ),
        false_claims=(
            "cancelling gives you a refund for the whole year",
            "Premium includes a free device every quarter",
        ),
    ),
    Topic(
        "device",
        questions=(
            "My {product} won't connect to Wi-Fi after the latest update.",
            "The {product} keeps disconnecting every few hours. Serial {serial}.",
            "How do I factory reset my {product}?",
            "My {product} is stuck on firmware {firmware}, it won't update.",
            "{product} light is blinking red, what does that mean",
        ),
        followups=(
            "I tried that and it still doesn't work.",
            "Will a reset delete my settings?",
            "Is this covered by the warranty?",
        ),
        answers_tool=(
            "Your {product} ({serial}) is on firmware {firmware} and was last seen offline. I've scheduled the update to {new_firmware}, which fixes the Wi-Fi drop issue; keep it plugged in for 10 minutes.",
            "I looked up {serial}: it's running {firmware}, which has a known reconnect bug. The {new_firmware} update is now queued; after it installs, restart your router and the {product}.",
        ),
        answers_kb=(
            "First unplug the {product} for 30 seconds and plug it back in. If it still won't connect, hold the reset button for 10 seconds to return to factory settings, then set it up again in the Northwind app.",
            "A blinking red light means the device lost its network connection. Check that your router uses the 2.4 GHz band, then restart the device from the Northwind app.",
        ),
        tools=(
            Tool(
                "get_device_status",
                "Get the firmware version and connectivity of a device by serial number.",
                _schema(serial="string"),
                '{"serial":"{serial}"}',
                '{"serial":"{serial}","firmware":"{firmware}","online":false,"last_seen_hours":6}',
                "checked the status of your registered device",
            ),
            Tool(
                "schedule_firmware_update",
                "Queue a firmware update for a device.",
                _schema(serial="string", version="string"),
                '{"serial":"{serial}","version":"{new_firmware}"}',
                '{"serial":"{serial}","version":"{new_firmware}","scheduled":true}',
                "scheduled a firmware update on your device",
            ),
        ),
        docs=(
            (
                "Wi-Fi requirements",
                "Northwind devices connect to 2.4 GHz networks. Mesh networks must broadcast a 2.4 GHz band.",
            ),
            (
                "Factory reset",
                "Hold the reset button for 10 seconds until the light blinks white. A reset erases all settings.",
            ),
            (
                "Status lights",
                "Blinking red: no network. Solid amber: updating. Blinking white: ready for setup.",
            ),
            (
                "Firmware updates",
                "Firmware updates install automatically overnight. Version 4.3.0 fixes the reconnect issue of 4.2.x.",
            ),
            (
                "Warranty",
                "Devices have a 1-year limited warranty covering hardware defects; Premium members get 2 years.",
            ),
            (
                "Troubleshooting connectivity",
                "Unplug the device for 30 seconds, restart the router, then re-add the device in the Northwind app.",
            ),
        ),
        false_claims=(
            "the warranty covers accidental damage for five years",
            "every device receives a free replacement after any update problem",
        ),
    ),
)

GREETINGS = ("", "Hi, ", "Hello! ", "Hey there. ", "Good morning. ", "", "Hi team, ", "")
SIGN_OFFS = ("", "", " Thanks!", " Thanks in advance.", " This is urgent.", "", " Appreciate it.")
OPENERS = (
    "Thanks for reaching out, {name}! ",
    "Happy to help with that. ",
    "Sorry for the trouble, {name}. ",
    "Thanks for your patience. ",
    "I can help with this. ",
    "Good question! ",
    "",
    "Hi {name}, thanks for the details. ",
)
CLOSERS = (
    " Is there anything else I can help you with?",
    " Let me know if you have any other questions.",
    " I hope that helps!",
    "",
    " Feel free to reply here if anything else comes up.",
    " Have a great day!",
)
RUDE_OPENERS = (
    "As I already explained, ",
    "Obviously, ",
    "Look, this is in our FAQ. ",
    "You should have checked this yourself, but fine. ",
    "Calm down. ",
)
RUDE_CLOSERS = (
    " Please read the help center before contacting us next time.",
    " That's all there is to it.",
    " Try not to make the same mistake again.",
    " Don't expect a faster answer next time.",
)
FILLERS = (
    " To give you a bit more background, our support team reviews every request carefully and we always want to make sure you have complete information.",
    " It's also worth mentioning that many customers find it helpful to review their account settings regularly, as this can prevent a variety of common issues.",
    " Additionally, please keep in mind that policies can vary depending on a number of factors, including your region, your plan and the specific product involved.",
    " In general, we recommend keeping your order confirmation emails, since they contain useful reference numbers and details that can speed things up.",
    " You may also want to explore our help center, which contains a large number of articles on shipping, returns, billing, accounts and devices.",
    " As a general note, our team is continuously working to improve our processes, and your feedback is always welcome and appreciated.",
    " On a related note, our mobile app offers many of the same features as the website, and some customers prefer it for managing orders on the go.",
    " Finally, it's good practice to double-check the contact information on your account so that important notifications reach you promptly.",
)
HALLUCINATION = " According to our policy {fake_ref}, {false_claim}."
WRONG_TOOL = " I've also {wrong_action} for you."
TOOL_FAILED = " I couldn't reach one of our internal systems just now, so some details may be missing; please try again in a few minutes."

PLANNER_PROMPT = (
    "You are Northwind's customer support assistant. Decide which tools to call to answer "
    "the customer's message. Call only tools that are needed, with exact arguments. "
    "Customer: {name} <{email}>, tier {tier}."
)
ANSWER_PROMPT = (
    "You are Northwind's customer support assistant. Answer the customer politely and "
    "concisely using only the context below and the tool results. Cite no policy that is "
    "not in the context. If you cannot help, say so and offer to escalate.\n\nContext:\n"
)
PLAN_REPLIES = ("Let me look that up for you.", "", "One moment while I check.", "")
GUARDRAIL_OK = '{"flagged":false,"categories":[]}'

#: (name, pass label, fail label) of the LLM-judge evaluations on the answer span.
FAITHFUL_EXPLAIN = (
    "Every factual statement in the answer is supported by the retrieved context or the tool results.",
    "The answer restates the policy from {doc_ref} accurately and adds no unsupported claims.",
)
UNFAITHFUL_EXPLAIN = (
    "The answer cites {fake_ref}, which is not among the retrieved documents, and claims that {false_claim}; the context does not support this.",
    "The answer asserts that {false_claim}, but no retrieved document says so ({fake_ref} does not exist in the context).",
)
RELEVANT_EXPLAIN = (
    "The answer addresses the customer's {topic} question directly.",
    "The response stays on the customer's request about {topic} and resolves it.",
)
IRRELEVANT_EXPLAIN = (
    "The customer asked about {topic}, but the answer discusses {other_topic}.",
    "The response is about {other_topic} and does not address the {topic} question.",
)
PARTLY_RELEVANT_EXPLAIN = ("The answer addresses the question but buries it in unrelated detail.",)
NON_TOXIC_EXPLAIN = (
    "The tone is polite and professional.",
    "No toxic, insulting or condescending language.",
)
TOXIC_EXPLAIN = (
    'The answer is condescending toward the customer ("{rude}").',
    'Dismissive tone: the reply blames the customer ("{rude}").',
)
TOOL_OK_EXPLAIN = (
    "The selected tools match the {topic} request and the arguments are correct.",
    "Tool calls are appropriate for the request.",
)
TOOL_WRONG_EXPLAIN = (
    "The agent called {wrong_tool}, which is unrelated to the customer's {topic} request.",
    "{wrong_tool} was not needed for a {topic} question and changed the customer's account without being asked.",
)
FEEDBACK_UP = ("Great, thanks!", "", "That solved it.", "", "quick and helpful")
FEEDBACK_DOWN = (
    "This didn't answer my question.",
    "",
    "Rude reply.",
    "Wrong information.",
    "Way too long.",
    "",
)
RETURN_REASONS = ("damaged", "not_as_described", "changed_mind", "wrong_item")
