"""What the shop serves: endpoints, SQL, assets, clients.

Plain data, so a reader can see the traffic mix at a glance and tests can check that
every layer names the same endpoints.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Query:
    key: str
    sql: str  # Hibernate 6 style, $n placeholders as PostgreSQL logs them
    params: tuple[str, ...]  # kinds of parameters: customer, order, category, page, size, ...
    median_ms: float
    sigma: float


@dataclass(frozen=True, slots=True)
class Endpoint:
    key: str
    method: str
    template: str  # path with {customer}/{order}/{page}/{category} holes
    weight: float
    handler: str  # Spring controller#method, used in sqlcommenter tags and stack traces
    cpu_ms: float  # median application time outside the DB
    query: Query
    ok_status: int
    body_bytes: tuple[int, int]
    request_bytes: int


Q_ORDERS_BY_CUSTOMER = Query(
    "orders_by_customer",
    "select o1_0.id,o1_0.created_at,o1_0.customer_id,o1_0.status,o1_0.total_cents "
    "from orders o1_0 where o1_0.customer_id=$1 order by o1_0.created_at desc "
    "offset $2 rows fetch first $3 rows only",
    ("customer", "offset", "size"),
    4.0,
    0.5,
)
Q_ORDER_BY_ID = Query(
    "order_by_id",
    "select o1_0.id,o1_0.created_at,o1_0.customer_id,o1_0.status,o1_0.total_cents,"
    "i1_0.order_id,i1_0.id,i1_0.product_id,i1_0.quantity,i1_0.unit_price_cents "
    "from orders o1_0 left join order_items i1_0 on o1_0.id=i1_0.order_id where o1_0.id=$1",
    ("order",),
    1.6,
    0.45,
)
Q_INSERT_ORDER = Query(
    "insert_order",
    "insert into orders (created_at,customer_id,idempotency_key,status,total_cents) "
    "values ($1,$2,$3,$4,$5) returning id",
    ("now", "customer", "idem", "status", "cents"),
    3.2,
    0.5,
)
Q_PRODUCTS = Query(
    "products_by_category",
    "select p1_0.id,p1_0.category,p1_0.name,p1_0.price_cents,p1_0.stock from products p1_0 "
    "where p1_0.category=$1 order by p1_0.name fetch first $2 rows only",
    ("category", "size"),
    2.4,
    0.45,
)
Q_CUSTOMER = Query(
    "customer_by_id",
    "select c1_0.id,c1_0.email_domain,c1_0.loyalty_tier_id,c1_0.created_at "
    "from customers c1_0 where c1_0.id=$1",
    ("customer",),
    0.9,
    0.4,
)

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "list_orders",
        "GET",
        "/api/orders?customerId={customer}&page={page}&size=20",
        30,
        "OrderController#listOrders",
        6.0,
        Q_ORDERS_BY_CUSTOMER,
        200,
        (1800, 6200),
        0,
    ),
    Endpoint(
        "get_order",
        "GET",
        "/api/orders/{order}",
        24,
        "OrderController#getOrder",
        4.0,
        Q_ORDER_BY_ID,
        200,
        (520, 1400),
        0,
    ),
    Endpoint(
        "create_order",
        "POST",
        "/api/orders",
        9,
        "OrderController#createOrder",
        14.0,
        Q_INSERT_ORDER,
        201,
        (380, 520),
        412,
    ),
    Endpoint(
        "list_products",
        "GET",
        "/api/products?category={category}&page=1",
        25,
        "ProductController#listProducts",
        5.0,
        Q_PRODUCTS,
        200,
        (2400, 9000),
        0,
    ),
    Endpoint(
        "get_customer",
        "GET",
        "/api/customers/me",
        12,
        "CustomerController#me",
        3.0,
        Q_CUSTOMER,
        200,
        (210, 260),
        0,
    ),
)
ENDPOINT_BY_KEY = {e.key: e for e in ENDPOINTS}

CATEGORIES = ("shoes", "outdoor", "kitchen", "books", "toys", "garden", "audio", "sale")

# Front-end assets nginx serves itself (path, bytes).
STATIC_ASSETS: tuple[tuple[str, int], ...] = (
    ("/", 1187),
    ("/static/js/main.4f9c2a1e.js", 214_733),
    ("/static/css/main.8b1d7e33.css", 18_402),
    ("/static/js/vendor.c71e09f2.js", 402_118),
    ("/favicon.ico", 3_870),
    ("/static/media/logo.2b6f8d41.svg", 2_731),
)
PAGE_REFERERS = (
    "https://shop.example.com/",
    "https://shop.example.com/orders",
    "https://shop.example.com/cart",
    "https://shop.example.com/checkout",
    "https://shop.example.com/products",
)

BROWSER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.6 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
)

SCANNER_AGENTS = (
    "Mozilla/5.0 zgrab/0.x",
    "python-requests/2.31.0",
    # Research scanners name a page about themselves; ours is on a documentation domain.
    "Mozilla/5.0 (compatible; ResearchScan/1.1; +https://scan.example.com/)",
    "curl/7.88.1",
)
SCANNER_PATHS = (
    "/wp-login.php",
    "/.env",
    "/.git/config",
    "/phpmyadmin/index.php",
    "/admin/config.php",
    "/wp-admin/setup-config.php",
    "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
    "/cgi-bin/luci/;stok=/locale",
    "/actuator/env",
    "/server-status",
    "/.aws/credentials",
    "/xmlrpc.php",
    "/boaform/admin/formLogin",
    "/HNAP1/",
    "/.DS_Store",
)
