"""The 24 TPC-DS tables: the specification's column types, NOT NULL columns and primary keys, the row counts at
SF 1, and the Hyper DDL that loads tpcgen-cli's Parquet files.

Types are those of the specification's DDL (tools/tpcds.sql of the TPC-DS kit) and are kept here as the
specification writes them; `hyper_type` maps them to what the tables use in Hyper:

- INTEGER → INT, DECIMAL(p,s) → NUMERIC(p,s), DATE → DATE, as written;
- the fact tables' ticket and order numbers → BIGINT: tpcgen-cli writes them as int64, and they outgrow INT at
  large scale factors (SF 100,000 has ~28.8 billion store tickets), which the specification's "identifier" allows;
- CHAR(n) / VARCHAR(n) → TEXT, as for TPC-H: Hyper stores and compares them alike apart from CHAR's blank
  padding, and TEXT keeps answers comparable with DuckDB's (which has no padded CHAR).

Column order and nullability are those of the kit's DDL, which tpcgen-cli's files follow exactly: the surrogate
keys, business ids and the fact tables' key columns are NOT NULL, every other column may be NULL. The primary
keys become Hyper's ASSUMED PRIMARY KEY (Hyper rejects enforced keys with "Index support is disabled"; an
assumed key is not checked on insert, the optimizer trusts it; every key is unique in dsdgen's data).

Loading: `INSERT INTO t SELECT * FROM external('t.parquet')` applies the assignment casts (int64 → INT,
string → TEXT) and enforces NOT NULL; `CREATE TABLE t AS SELECT * FROM external(…)` would give the files' types
(INT, BIGINT, NUMERIC(p,s), DATE, TEXT) but every column nullable and no keys. An Arrow COPY needs the Arrow
schema to match the table exactly (`arrow_schema`).
"""

import re

N, ID, D, M = "INTEGER", "IDENTIFIER", "DATE", "DECIMAL(7,2)"  # IDENTIFIER: a 64-bit order/ticket number

# table → [(column, type as the specification writes it)], in the specification's (and tpcgen-cli's) order
TABLES: dict[str, list[tuple[str, str]]] = {
    "call_center": [
        ("cc_call_center_sk", N), ("cc_call_center_id", "CHAR(16)"), ("cc_rec_start_date", D),
        ("cc_rec_end_date", D), ("cc_closed_date_sk", N), ("cc_open_date_sk", N), ("cc_name", "VARCHAR(50)"),
        ("cc_class", "VARCHAR(50)"), ("cc_employees", N), ("cc_sq_ft", N), ("cc_hours", "CHAR(20)"),
        ("cc_manager", "VARCHAR(40)"), ("cc_mkt_id", N), ("cc_mkt_class", "CHAR(50)"),
        ("cc_mkt_desc", "VARCHAR(100)"), ("cc_market_manager", "VARCHAR(40)"), ("cc_division", N),
        ("cc_division_name", "VARCHAR(50)"), ("cc_company", N), ("cc_company_name", "CHAR(50)"),
        ("cc_street_number", "CHAR(10)"), ("cc_street_name", "VARCHAR(60)"), ("cc_street_type", "CHAR(15)"),
        ("cc_suite_number", "CHAR(10)"), ("cc_city", "VARCHAR(60)"), ("cc_county", "VARCHAR(30)"),
        ("cc_state", "CHAR(2)"), ("cc_zip", "CHAR(10)"), ("cc_country", "VARCHAR(20)"),
        ("cc_gmt_offset", "DECIMAL(5,2)"), ("cc_tax_percentage", "DECIMAL(5,2)"),
    ],
    "catalog_page": [
        ("cp_catalog_page_sk", N), ("cp_catalog_page_id", "CHAR(16)"), ("cp_start_date_sk", N),
        ("cp_end_date_sk", N), ("cp_department", "VARCHAR(50)"), ("cp_catalog_number", N),
        ("cp_catalog_page_number", N), ("cp_description", "VARCHAR(100)"), ("cp_type", "VARCHAR(100)"),
    ],
    "catalog_returns": [
        ("cr_returned_date_sk", N), ("cr_returned_time_sk", N), ("cr_item_sk", N), ("cr_refunded_customer_sk", N),
        ("cr_refunded_cdemo_sk", N), ("cr_refunded_hdemo_sk", N), ("cr_refunded_addr_sk", N),
        ("cr_returning_customer_sk", N), ("cr_returning_cdemo_sk", N), ("cr_returning_hdemo_sk", N),
        ("cr_returning_addr_sk", N), ("cr_call_center_sk", N), ("cr_catalog_page_sk", N), ("cr_ship_mode_sk", N),
        ("cr_warehouse_sk", N), ("cr_reason_sk", N), ("cr_order_number", ID), ("cr_return_quantity", N),
        ("cr_return_amount", M), ("cr_return_tax", M), ("cr_return_amt_inc_tax", M), ("cr_fee", M),
        ("cr_return_ship_cost", M), ("cr_refunded_cash", M), ("cr_reversed_charge", M), ("cr_store_credit", M),
        ("cr_net_loss", M),
    ],
    "catalog_sales": [
        ("cs_sold_date_sk", N), ("cs_sold_time_sk", N), ("cs_ship_date_sk", N), ("cs_bill_customer_sk", N),
        ("cs_bill_cdemo_sk", N), ("cs_bill_hdemo_sk", N), ("cs_bill_addr_sk", N), ("cs_ship_customer_sk", N),
        ("cs_ship_cdemo_sk", N), ("cs_ship_hdemo_sk", N), ("cs_ship_addr_sk", N), ("cs_call_center_sk", N),
        ("cs_catalog_page_sk", N), ("cs_ship_mode_sk", N), ("cs_warehouse_sk", N), ("cs_item_sk", N),
        ("cs_promo_sk", N), ("cs_order_number", ID), ("cs_quantity", N), ("cs_wholesale_cost", M),
        ("cs_list_price", M), ("cs_sales_price", M), ("cs_ext_discount_amt", M), ("cs_ext_sales_price", M),
        ("cs_ext_wholesale_cost", M), ("cs_ext_list_price", M), ("cs_ext_tax", M), ("cs_coupon_amt", M),
        ("cs_ext_ship_cost", M), ("cs_net_paid", M), ("cs_net_paid_inc_tax", M), ("cs_net_paid_inc_ship", M),
        ("cs_net_paid_inc_ship_tax", M), ("cs_net_profit", M),
    ],
    "customer": [
        ("c_customer_sk", N), ("c_customer_id", "CHAR(16)"), ("c_current_cdemo_sk", N), ("c_current_hdemo_sk", N),
        ("c_current_addr_sk", N), ("c_first_shipto_date_sk", N), ("c_first_sales_date_sk", N),
        ("c_salutation", "CHAR(10)"), ("c_first_name", "CHAR(20)"), ("c_last_name", "CHAR(30)"),
        ("c_preferred_cust_flag", "CHAR(1)"), ("c_birth_day", N), ("c_birth_month", N), ("c_birth_year", N),
        ("c_birth_country", "VARCHAR(20)"), ("c_login", "CHAR(13)"), ("c_email_address", "CHAR(50)"),
        ("c_last_review_date_sk", N),
    ],
    "customer_address": [
        ("ca_address_sk", N), ("ca_address_id", "CHAR(16)"), ("ca_street_number", "CHAR(10)"),
        ("ca_street_name", "VARCHAR(60)"), ("ca_street_type", "CHAR(15)"), ("ca_suite_number", "CHAR(10)"),
        ("ca_city", "VARCHAR(60)"), ("ca_county", "VARCHAR(30)"), ("ca_state", "CHAR(2)"), ("ca_zip", "CHAR(10)"),
        ("ca_country", "VARCHAR(20)"), ("ca_gmt_offset", "DECIMAL(5,2)"), ("ca_location_type", "CHAR(20)"),
    ],
    "customer_demographics": [
        ("cd_demo_sk", N), ("cd_gender", "CHAR(1)"), ("cd_marital_status", "CHAR(1)"),
        ("cd_education_status", "CHAR(20)"), ("cd_purchase_estimate", N), ("cd_credit_rating", "CHAR(10)"),
        ("cd_dep_count", N), ("cd_dep_employed_count", N), ("cd_dep_college_count", N),
    ],
    "date_dim": [
        ("d_date_sk", N), ("d_date_id", "CHAR(16)"), ("d_date", D), ("d_month_seq", N), ("d_week_seq", N),
        ("d_quarter_seq", N), ("d_year", N), ("d_dow", N), ("d_moy", N), ("d_dom", N), ("d_qoy", N),
        ("d_fy_year", N), ("d_fy_quarter_seq", N), ("d_fy_week_seq", N), ("d_day_name", "CHAR(9)"),
        ("d_quarter_name", "CHAR(6)"), ("d_holiday", "CHAR(1)"), ("d_weekend", "CHAR(1)"),
        ("d_following_holiday", "CHAR(1)"), ("d_first_dom", N), ("d_last_dom", N), ("d_same_day_ly", N),
        ("d_same_day_lq", N), ("d_current_day", "CHAR(1)"), ("d_current_week", "CHAR(1)"),
        ("d_current_month", "CHAR(1)"), ("d_current_quarter", "CHAR(1)"), ("d_current_year", "CHAR(1)"),
    ],
    "household_demographics": [
        ("hd_demo_sk", N), ("hd_income_band_sk", N), ("hd_buy_potential", "CHAR(15)"), ("hd_dep_count", N),
        ("hd_vehicle_count", N),
    ],
    "income_band": [
        ("ib_income_band_sk", N), ("ib_lower_bound", N), ("ib_upper_bound", N),
    ],
    "inventory": [
        ("inv_date_sk", N), ("inv_item_sk", N), ("inv_warehouse_sk", N), ("inv_quantity_on_hand", N),
    ],
    "item": [
        ("i_item_sk", N), ("i_item_id", "CHAR(16)"), ("i_rec_start_date", D), ("i_rec_end_date", D),
        ("i_item_desc", "VARCHAR(200)"), ("i_current_price", M), ("i_wholesale_cost", M), ("i_brand_id", N),
        ("i_brand", "CHAR(50)"), ("i_class_id", N), ("i_class", "CHAR(50)"), ("i_category_id", N),
        ("i_category", "CHAR(50)"), ("i_manufact_id", N), ("i_manufact", "CHAR(50)"), ("i_size", "CHAR(20)"),
        ("i_formulation", "CHAR(20)"), ("i_color", "CHAR(20)"), ("i_units", "CHAR(10)"),
        ("i_container", "CHAR(10)"), ("i_manager_id", N), ("i_product_name", "CHAR(50)"),
    ],
    "promotion": [
        ("p_promo_sk", N), ("p_promo_id", "CHAR(16)"), ("p_start_date_sk", N), ("p_end_date_sk", N),
        ("p_item_sk", N), ("p_cost", "DECIMAL(15,2)"), ("p_response_target", N), ("p_promo_name", "CHAR(50)"),
        ("p_channel_dmail", "CHAR(1)"), ("p_channel_email", "CHAR(1)"), ("p_channel_catalog", "CHAR(1)"),
        ("p_channel_tv", "CHAR(1)"), ("p_channel_radio", "CHAR(1)"), ("p_channel_press", "CHAR(1)"),
        ("p_channel_event", "CHAR(1)"), ("p_channel_demo", "CHAR(1)"), ("p_channel_details", "VARCHAR(100)"),
        ("p_purpose", "CHAR(15)"), ("p_discount_active", "CHAR(1)"),
    ],
    "reason": [
        ("r_reason_sk", N), ("r_reason_id", "CHAR(16)"), ("r_reason_desc", "CHAR(100)"),
    ],
    "ship_mode": [
        ("sm_ship_mode_sk", N), ("sm_ship_mode_id", "CHAR(16)"), ("sm_type", "CHAR(30)"), ("sm_code", "CHAR(10)"),
        ("sm_carrier", "CHAR(20)"), ("sm_contract", "CHAR(20)"),
    ],
    "store": [
        ("s_store_sk", N), ("s_store_id", "CHAR(16)"), ("s_rec_start_date", D), ("s_rec_end_date", D),
        ("s_closed_date_sk", N), ("s_store_name", "VARCHAR(50)"), ("s_number_employees", N), ("s_floor_space", N),
        ("s_hours", "CHAR(20)"), ("s_manager", "VARCHAR(40)"), ("s_market_id", N),
        ("s_geography_class", "VARCHAR(100)"), ("s_market_desc", "VARCHAR(100)"),
        ("s_market_manager", "VARCHAR(40)"), ("s_division_id", N), ("s_division_name", "VARCHAR(50)"),
        ("s_company_id", N), ("s_company_name", "VARCHAR(50)"), ("s_street_number", "VARCHAR(10)"),
        ("s_street_name", "VARCHAR(60)"), ("s_street_type", "CHAR(15)"), ("s_suite_number", "CHAR(10)"),
        ("s_city", "VARCHAR(60)"), ("s_county", "VARCHAR(30)"), ("s_state", "CHAR(2)"), ("s_zip", "CHAR(10)"),
        ("s_country", "VARCHAR(20)"), ("s_gmt_offset", "DECIMAL(5,2)"), ("s_tax_precentage", "DECIMAL(5,2)"),
    ],
    "store_returns": [
        ("sr_returned_date_sk", N), ("sr_return_time_sk", N), ("sr_item_sk", N), ("sr_customer_sk", N),
        ("sr_cdemo_sk", N), ("sr_hdemo_sk", N), ("sr_addr_sk", N), ("sr_store_sk", N), ("sr_reason_sk", N),
        ("sr_ticket_number", ID), ("sr_return_quantity", N), ("sr_return_amt", M), ("sr_return_tax", M),
        ("sr_return_amt_inc_tax", M), ("sr_fee", M), ("sr_return_ship_cost", M), ("sr_refunded_cash", M),
        ("sr_reversed_charge", M), ("sr_store_credit", M), ("sr_net_loss", M),
    ],
    "store_sales": [
        ("ss_sold_date_sk", N), ("ss_sold_time_sk", N), ("ss_item_sk", N), ("ss_customer_sk", N),
        ("ss_cdemo_sk", N), ("ss_hdemo_sk", N), ("ss_addr_sk", N), ("ss_store_sk", N), ("ss_promo_sk", N),
        ("ss_ticket_number", ID), ("ss_quantity", N), ("ss_wholesale_cost", M), ("ss_list_price", M),
        ("ss_sales_price", M), ("ss_ext_discount_amt", M), ("ss_ext_sales_price", M), ("ss_ext_wholesale_cost", M),
        ("ss_ext_list_price", M), ("ss_ext_tax", M), ("ss_coupon_amt", M), ("ss_net_paid", M),
        ("ss_net_paid_inc_tax", M), ("ss_net_profit", M),
    ],
    "time_dim": [
        ("t_time_sk", N), ("t_time_id", "CHAR(16)"), ("t_time", N), ("t_hour", N), ("t_minute", N),
        ("t_second", N), ("t_am_pm", "CHAR(2)"), ("t_shift", "CHAR(20)"), ("t_sub_shift", "CHAR(20)"),
        ("t_meal_time", "CHAR(20)"),
    ],
    "warehouse": [
        ("w_warehouse_sk", N), ("w_warehouse_id", "CHAR(16)"), ("w_warehouse_name", "VARCHAR(20)"),
        ("w_warehouse_sq_ft", N), ("w_street_number", "CHAR(10)"), ("w_street_name", "VARCHAR(60)"),
        ("w_street_type", "CHAR(15)"), ("w_suite_number", "CHAR(10)"), ("w_city", "VARCHAR(60)"),
        ("w_county", "VARCHAR(30)"), ("w_state", "CHAR(2)"), ("w_zip", "CHAR(10)"), ("w_country", "VARCHAR(20)"),
        ("w_gmt_offset", "DECIMAL(5,2)"),
    ],
    "web_page": [
        ("wp_web_page_sk", N), ("wp_web_page_id", "CHAR(16)"), ("wp_rec_start_date", D), ("wp_rec_end_date", D),
        ("wp_creation_date_sk", N), ("wp_access_date_sk", N), ("wp_autogen_flag", "CHAR(1)"),
        ("wp_customer_sk", N), ("wp_url", "VARCHAR(100)"), ("wp_type", "CHAR(50)"), ("wp_char_count", N),
        ("wp_link_count", N), ("wp_image_count", N), ("wp_max_ad_count", N),
    ],
    "web_returns": [
        ("wr_returned_date_sk", N), ("wr_returned_time_sk", N), ("wr_item_sk", N), ("wr_refunded_customer_sk", N),
        ("wr_refunded_cdemo_sk", N), ("wr_refunded_hdemo_sk", N), ("wr_refunded_addr_sk", N),
        ("wr_returning_customer_sk", N), ("wr_returning_cdemo_sk", N), ("wr_returning_hdemo_sk", N),
        ("wr_returning_addr_sk", N), ("wr_web_page_sk", N), ("wr_reason_sk", N), ("wr_order_number", ID),
        ("wr_return_quantity", N), ("wr_return_amt", M), ("wr_return_tax", M), ("wr_return_amt_inc_tax", M),
        ("wr_fee", M), ("wr_return_ship_cost", M), ("wr_refunded_cash", M), ("wr_reversed_charge", M),
        ("wr_account_credit", M), ("wr_net_loss", M),
    ],
    "web_sales": [
        ("ws_sold_date_sk", N), ("ws_sold_time_sk", N), ("ws_ship_date_sk", N), ("ws_item_sk", N),
        ("ws_bill_customer_sk", N), ("ws_bill_cdemo_sk", N), ("ws_bill_hdemo_sk", N), ("ws_bill_addr_sk", N),
        ("ws_ship_customer_sk", N), ("ws_ship_cdemo_sk", N), ("ws_ship_hdemo_sk", N), ("ws_ship_addr_sk", N),
        ("ws_web_page_sk", N), ("ws_web_site_sk", N), ("ws_ship_mode_sk", N), ("ws_warehouse_sk", N),
        ("ws_promo_sk", N), ("ws_order_number", ID), ("ws_quantity", N), ("ws_wholesale_cost", M),
        ("ws_list_price", M), ("ws_sales_price", M), ("ws_ext_discount_amt", M), ("ws_ext_sales_price", M),
        ("ws_ext_wholesale_cost", M), ("ws_ext_list_price", M), ("ws_ext_tax", M), ("ws_coupon_amt", M),
        ("ws_ext_ship_cost", M), ("ws_net_paid", M), ("ws_net_paid_inc_tax", M), ("ws_net_paid_inc_ship", M),
        ("ws_net_paid_inc_ship_tax", M), ("ws_net_profit", M),
    ],
    "web_site": [
        ("web_site_sk", N), ("web_site_id", "CHAR(16)"), ("web_rec_start_date", D), ("web_rec_end_date", D),
        ("web_name", "VARCHAR(50)"), ("web_open_date_sk", N), ("web_close_date_sk", N),
        ("web_class", "VARCHAR(50)"), ("web_manager", "VARCHAR(40)"), ("web_mkt_id", N),
        ("web_mkt_class", "VARCHAR(50)"), ("web_mkt_desc", "VARCHAR(100)"), ("web_market_manager", "VARCHAR(40)"),
        ("web_company_id", N), ("web_company_name", "CHAR(50)"), ("web_street_number", "CHAR(10)"),
        ("web_street_name", "VARCHAR(60)"), ("web_street_type", "CHAR(15)"), ("web_suite_number", "CHAR(10)"),
        ("web_city", "VARCHAR(60)"), ("web_county", "VARCHAR(30)"), ("web_state", "CHAR(2)"),
        ("web_zip", "CHAR(10)"), ("web_country", "VARCHAR(20)"), ("web_gmt_offset", "DECIMAL(5,2)"),
        ("web_tax_percentage", "DECIMAL(5,2)"),
    ],
}  # fmt: skip

# the columns the specification declares NOT NULL (tpcgen-cli's Parquet fields are non-nullable for exactly these)
NOT_NULL: dict[str, tuple[str, ...]] = {
    "call_center": ("cc_call_center_sk", "cc_call_center_id"),
    "catalog_page": ("cp_catalog_page_sk", "cp_catalog_page_id"),
    "catalog_returns": ("cr_item_sk", "cr_order_number"),
    "catalog_sales": ("cs_item_sk", "cs_order_number"),
    "customer": ("c_customer_sk", "c_customer_id"),
    "customer_address": ("ca_address_sk", "ca_address_id"),
    "customer_demographics": ("cd_demo_sk",),
    "date_dim": ("d_date_sk", "d_date_id"),
    "household_demographics": ("hd_demo_sk",),
    "income_band": ("ib_income_band_sk",),
    "inventory": ("inv_date_sk", "inv_item_sk", "inv_warehouse_sk"),
    "item": ("i_item_sk", "i_item_id"),
    "promotion": ("p_promo_sk", "p_promo_id"),
    "reason": ("r_reason_sk", "r_reason_id"),
    "ship_mode": ("sm_ship_mode_sk", "sm_ship_mode_id"),
    "store": ("s_store_sk", "s_store_id"),
    "store_returns": ("sr_item_sk", "sr_ticket_number"),
    "store_sales": ("ss_item_sk", "ss_ticket_number"),
    "time_dim": ("t_time_sk", "t_time_id"),
    "warehouse": ("w_warehouse_sk", "w_warehouse_id"),
    "web_page": ("wp_web_page_sk", "wp_web_page_id"),
    "web_returns": ("wr_item_sk", "wr_order_number"),
    "web_sales": ("ws_item_sk", "ws_order_number"),
    "web_site": ("web_site_sk", "web_site_id"),
}

PRIMARY_KEYS: dict[str, tuple[str, ...]] = {
    "call_center": ("cc_call_center_sk",),
    "catalog_page": ("cp_catalog_page_sk",),
    "catalog_returns": ("cr_item_sk", "cr_order_number"),
    "catalog_sales": ("cs_item_sk", "cs_order_number"),
    "customer": ("c_customer_sk",),
    "customer_address": ("ca_address_sk",),
    "customer_demographics": ("cd_demo_sk",),
    "date_dim": ("d_date_sk",),
    "household_demographics": ("hd_demo_sk",),
    "income_band": ("ib_income_band_sk",),
    "inventory": ("inv_date_sk", "inv_item_sk", "inv_warehouse_sk"),
    "item": ("i_item_sk",),
    "promotion": ("p_promo_sk",),
    "reason": ("r_reason_sk",),
    "ship_mode": ("sm_ship_mode_sk",),
    "store": ("s_store_sk",),
    "store_returns": ("sr_item_sk", "sr_ticket_number"),
    "store_sales": ("ss_item_sk", "ss_ticket_number"),
    "time_dim": ("t_time_sk",),
    "warehouse": ("w_warehouse_sk",),
    "web_page": ("wp_web_page_sk",),
    "web_returns": ("wr_item_sk", "wr_order_number"),
    "web_sales": ("ws_item_sk", "ws_order_number"),
    "web_site": ("web_site_sk",),
}

# Row counts at SF 1 (specification, Table 3-2), which dsdgen and tpcgen-cli produce, except reason: the table
# says 35, dsdgen writes 75 (the table's count for 100 TB; clause 3.4.2: "in case of
# differences between the table and the data generated by dsdgen, dsdgen prevails"), and so do tpcgen-cli and
# DuckDB's dsdgen
ROWS_SF1 = {
    "call_center": 6, "catalog_page": 11_718, "catalog_returns": 144_067, "catalog_sales": 1_441_548,
    "customer": 100_000, "customer_address": 50_000, "customer_demographics": 1_920_800, "date_dim": 73_049,
    "household_demographics": 7_200, "income_band": 20, "inventory": 11_745_000, "item": 18_000,
    "promotion": 300, "reason": 75, "ship_mode": 20, "store": 12, "store_returns": 287_514,
    "store_sales": 2_880_404, "time_dim": 86_400, "warehouse": 5, "web_page": 60, "web_returns": 71_763,
    "web_sales": 719_384, "web_site": 30,
}  # fmt: skip
SPEC_TABLE_ROWS_SF1 = {**ROWS_SF1, "reason": 35}


def hyper_type(spec_type: str) -> str:
    if spec_type == N:
        return "INT"
    if spec_type == ID:
        return "BIGINT"
    if spec_type == D:
        return "DATE"
    decimal = re.fullmatch(r"DECIMAL\((\d+),(\d+)\)", spec_type)
    if decimal:
        return f"NUMERIC({decimal[1]},{decimal[2]})"
    if re.fullmatch(r"(VAR)?CHAR\(\d+\)", spec_type):
        return "TEXT"
    raise ValueError(f"no Hyper type for {spec_type!r}")


def create_sql(table: str, table_sql: str | None = None, assumed_keys: bool = True) -> str:
    """CREATE TABLE for `table` (named `table_sql`, already quoted, if given)."""
    required = set(NOT_NULL[table])
    parts = [f"{name} {hyper_type(kind)}{' NOT NULL' if name in required else ''}" for name, kind in TABLES[table]]
    if assumed_keys:
        parts.append(f"ASSUMED PRIMARY KEY ({', '.join(PRIMARY_KEYS[table])})")
    return f"CREATE TABLE {table_sql or table} ({', '.join(parts)})"


def arrow_type(spec_type: str):
    import pyarrow as pa

    hyper = hyper_type(spec_type)
    if hyper.startswith("NUMERIC"):
        precision, scale = map(int, re.findall(r"\d+", hyper))
        return pa.decimal128(precision, scale)
    return {"INT": pa.int32(), "BIGINT": pa.int64(), "DATE": pa.date32(), "TEXT": pa.string()}[hyper]


def arrow_schema(table: str):
    """The Arrow schema an Arrow COPY into the Hyper table must have (tpcgen-cli's, with string_view → string:
    Hyper's Arrow reader does not take string_view and does no implicit casts)."""
    import pyarrow as pa

    required = set(NOT_NULL[table])
    return pa.schema([pa.field(n, arrow_type(k), nullable=n not in required) for n, k in TABLES[table]])
