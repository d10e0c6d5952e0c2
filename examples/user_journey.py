"""A user journey, Locust-style: many sessions per worker, each a shopper who browses a category, looks at one
product and sometimes buys it. The branches and the client-side work between statements (choosing a product from
what a browse returned, pricing a basket) are plain Python; each @task's latency is recorded under its name.

    loadgen run examples/user_journey.yaml
"""

from pydantic import Field

from loadgen import api

CATEGORIES = 20


class JourneyOptions(api.SessionOptions):  # sessions, duration_s, think_ms, rate_per_s, stages, … come with it
    products: int = Field(default=2_000, ge=CATEGORIES, le=1_000_000, description="Products in the catalogue.")
    buy_pct: float = Field(default=30, ge=0, le=100, description="How often a shopper who viewed a product buys it.")


class Shopper(api.Users):
    Options = JourneyOptions
    api_version = "1.0"

    def setup(self):
        ctx = self.ctx
        if ctx.owns_database:  # one worker creates the catalogue; the others wait for it below
            connection = ctx.connection
            connection.execute_command("DROP TABLE IF EXISTS products")
            connection.execute_command("CREATE TABLE products (id INT, category INT, price DOUBLE PRECISION)")
            connection.execute_command(
                f"INSERT INTO products SELECT i, i % {CATEGORIES}, 1 + (i % 97) FROM generate_series(1, "
                f"{self.options.products}) g(i)"
            )
            connection.execute_command("DROP TABLE IF EXISTS orders")
            connection.execute_command(
                "CREATE TABLE orders (worker INT, product INT, quantity INT, total DOUBLE PRECISION)"
            )
        ctx.gather(None)
        self.bought = 0
        super().setup()  # connects the sessions (untimed)

    async def on_start(self, session: api.Session):
        session.state["viewed"] = None

    @api.task(5)
    async def browse(self, session: api.Session):
        category = session.random.randrange(CATEGORIES)
        rows = await session.execute(
            "SELECT id, price FROM products WHERE category = %s ORDER BY price LIMIT 20", (category,)
        )
        # client-side: a shopper on a budget picks the cheapest product seen, then looks at it
        if rows:
            cheapest = min(rows, key=lambda row: row[1])
            session.state["viewed"] = cheapest[0]
        return len(rows)

    @api.task(2)
    async def view_and_maybe_buy(self, session: api.Session):
        product = session.state["viewed"]
        if product is None:  # nothing browsed yet: the journey starts at browse
            return await self.browse(session)
        [(price,)] = await session.execute("SELECT price FROM products WHERE id = %s", (product,))
        if session.random.uniform(0, 100) >= self.options.buy_pct:
            return 1
        quantity = session.random.randint(1, 3)
        total = round(price * quantity * (0.9 if quantity > 1 else 1.0), 2)  # a bundle discount, priced here
        async with session.connection.transaction():
            await session.execute(
                "INSERT INTO orders VALUES (%s, %s, %s, %s)", (self.ctx.worker, product, quantity, total)
            )
        self.bought += 1
        session.state["viewed"] = None
        return 2

    def verify(self):
        """Every purchase this worker's shoppers made is in the orders table, once."""
        orders = self.ctx.connection.execute_scalar_query(
            f"SELECT COUNT(*) FROM orders WHERE worker = {self.ctx.worker}"
        )
        detail = f"{self.bought} purchases by {len(self.sessions)} shoppers, {orders} orders in the table"
        return {"verified": "ok" if orders == self.bought else "failed", "detail": detail}
