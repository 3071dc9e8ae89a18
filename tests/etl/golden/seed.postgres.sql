WITH ev AS (
  SELECT
    e.lead_id AS lead_id,
    e.kind AS kind,
    (
      (
        CAST(CAST(EXTRACT(EPOCH FROM CURRENT_TIMESTAMP) * 1000000 AS BIGINT) AS DOUBLE PRECISION) / CAST(1000000.0 AS DOUBLE PRECISION)
      ) - (
        CAST(CAST(EXTRACT(EPOCH FROM e.occurred_at) * 1000000 AS BIGINT) AS DOUBLE PRECISION) / CAST(1000000.0 AS DOUBLE PRECISION)
      )
    ) / CAST(86400.0 AS DOUBLE PRECISION) AS age
  FROM events AS e
  WHERE
    e.kind IN (
      'case_study_download',
      'demo_request',
      'email_click',
      'pricing_page_visit',
      'quote_request',
      'webinar_attended',
      'webinar_registration'
    )
), agg AS (
  SELECT
    lead_id,
    SUM(
      CASE
        WHEN (
          kind = 'quote_request'
        )
        THEN CAST(40.0 AS DOUBLE PRECISION) * EXP(age * -CAST(0.023104906018664842 AS DOUBLE PRECISION))
      END
    ) AS s6,
    SUM(
      CASE
        WHEN (
          kind = 'demo_request'
        )
        THEN CAST(35.0 AS DOUBLE PRECISION) * EXP(age * -CAST(0.023104906018664842 AS DOUBLE PRECISION))
      END
    ) AS s7,
    SUM(
      CASE
        WHEN (
          kind = 'case_study_download'
        )
        THEN CAST(10.0 AS DOUBLE PRECISION) * EXP(age * -CAST(0.023104906018664842 AS DOUBLE PRECISION))
      END
    ) AS s9,
    SUM(
      CASE
        WHEN (
          kind = 'webinar_attended'
        )
        THEN CAST(8.0 AS DOUBLE PRECISION) * EXP(age * -CAST(0.023104906018664842 AS DOUBLE PRECISION))
      END
    ) AS s10,
    SUM(
      CASE
        WHEN (
          kind = 'webinar_registration'
        )
        THEN CAST(3.0 AS DOUBLE PRECISION) * EXP(age * -CAST(0.023104906018664842 AS DOUBLE PRECISION))
      END
    ) AS s11,
    SUM(
      CASE
        WHEN (
          kind = 'email_click'
        )
        THEN CAST(2.0 AS DOUBLE PRECISION) * EXP(age * -CAST(0.049510512897138946 AS DOUBLE PRECISION))
      END
    ) AS s12,
    COUNT(
      CASE
        WHEN (
          kind = 'pricing_page_visit'
        ) AND (
          age <= CAST(14.0 AS DOUBLE PRECISION)
        )
        THEN 1
      END
    ) AS c0,
    COALESCE(
      MIN(
        CASE
          WHEN (
            kind = 'pricing_page_visit'
          ) AND (
            age <= CAST(14.0 AS DOUBLE PRECISION)
          )
          THEN age
        END
      ),
      CAST(1e+308 AS DOUBLE PRECISION)
    ) AS a0
  FROM ev
  WHERE
    age >= CAST(0.0 AS DOUBLE PRECISION)
  GROUP BY
    lead_id
), scored AS (
  SELECT
    l.id AS id,
    CASE
      WHEN (
        NOT l.title IS NULL
      )
      AND (
        l.title ~* '(^|[^[:alnum:]_])(VP|SVP|EVP|Vice President|Chief|CEO|CFO|CIO|CTO|COO|CMO|President|Founder|Owner)([^[:alnum:]_]|$)'
      )
      THEN CAST(20.0 AS DOUBLE PRECISION)
      ELSE CAST(0.0 AS DOUBLE PRECISION)
    END AS r0,
    CASE
      WHEN (
        (
          NOT l.title IS NULL
        )
        AND (
          l.title ~* '(^|[^[:alnum:]_])(Director|Head of)([^[:alnum:]_]|$)'
        )
      )
      AND (
        NOT (
          (
            NOT l.title IS NULL
          )
          AND (
            l.title ~* '(^|[^[:alnum:]_])(VP|SVP|EVP|Vice President|Chief)([^[:alnum:]_]|$)'
          )
        )
      )
      THEN CAST(10.0 AS DOUBLE PRECISION)
      ELSE CAST(0.0 AS DOUBLE PRECISION)
    END AS r1,
    CASE
      WHEN (
        (
          NOT l.industry IS NULL
        )
        AND (
          LOWER(TRIM(l.industry)) IN ('financial services', 'healthcare', 'manufacturing', 'software')
        )
      )
      OR (
        (
          NOT a.industry IS NULL
        )
        AND (
          LOWER(TRIM(a.industry)) IN ('financial services', 'healthcare', 'manufacturing', 'software')
        )
      )
      THEN CAST(15.0 AS DOUBLE PRECISION)
      ELSE CAST(0.0 AS DOUBLE PRECISION)
    END AS r2,
    CASE
      WHEN (
        (
          NOT a.annual_revenue IS NULL
        )
        AND (
          CAST(a.annual_revenue AS DOUBLE PRECISION) >= CAST(500000000.0 AS DOUBLE PRECISION)
        )
      )
      OR (
        (
          a.annual_revenue IS NULL
        )
        AND (
          (
            NOT l.annual_revenue IS NULL
          )
          AND (
            CAST(l.annual_revenue AS DOUBLE PRECISION) >= CAST(500000000.0 AS DOUBLE PRECISION)
          )
        )
      )
      THEN CAST(15.0 AS DOUBLE PRECISION)
      ELSE CAST(0.0 AS DOUBLE PRECISION)
    END AS r3,
    CASE
      WHEN (
        (
          NOT l.title IS NULL
        )
        AND (
          l.title ~* '(^|[^[:alnum:]_])(Student|Intern)([^[:alnum:]_]|$)'
        )
      )
      OR (
        (
          NOT l.email IS NULL
        ) AND (
          l.email ~* '\.edu$'
        )
      )
      THEN -CAST(30.0 AS DOUBLE PRECISION)
      ELSE CAST(0.0 AS DOUBLE PRECISION)
    END AS r4,
    CASE
      WHEN (
        NOT CASE
          WHEN (
            l.email IS NULL
          ) OR (
            l.email = ''
          )
          THEN NULL
          ELSE SUBSTRING(l.email FROM POSITION('@' IN l.email) + 1)
        END IS NULL
      )
      AND (
        CASE
          WHEN (
            l.email IS NULL
          ) OR (
            l.email = ''
          )
          THEN NULL
          ELSE SUBSTRING(l.email FROM POSITION('@' IN l.email) + 1)
        END IN (
          '126.com',
          '163.com',
          'aol.com',
          'fastmail.com',
          'gmail.com',
          'gmx.com',
          'gmx.de',
          'gmx.net',
          'googlemail.com',
          'hey.com',
          'hotmail.co.uk',
          'hotmail.com',
          'hotmail.fr',
          'icloud.com',
          'live.com',
          'mac.com',
          'mail.com',
          'mail.ru',
          'me.com',
          'msn.com',
          'outlook.com',
          'proton.me',
          'protonmail.com',
          'qq.com',
          'tutanota.com',
          'web.de',
          'yahoo.co.uk',
          'yahoo.com',
          'yahoo.fr',
          'yandex.com',
          'yandex.ru',
          'zoho.com'
        )
      )
      THEN -CAST(10.0 AS DOUBLE PRECISION)
      ELSE CAST(0.0 AS DOUBLE PRECISION)
    END AS r5,
    CASE
      WHEN (
        NOT g.s6 IS NULL
      )
      THEN CASE
        WHEN COALESCE(g.s6, CAST(0.0 AS DOUBLE PRECISION)) > CAST(60.0 AS DOUBLE PRECISION)
        THEN CAST(60.0 AS DOUBLE PRECISION)
        WHEN COALESCE(g.s6, CAST(0.0 AS DOUBLE PRECISION)) < -CAST(60.0 AS DOUBLE PRECISION)
        THEN -CAST(60.0 AS DOUBLE PRECISION)
        ELSE COALESCE(g.s6, CAST(0.0 AS DOUBLE PRECISION))
      END
      ELSE CAST(0.0 AS DOUBLE PRECISION)
    END AS r6,
    CASE
      WHEN (
        NOT g.s7 IS NULL
      )
      THEN CASE
        WHEN COALESCE(g.s7, CAST(0.0 AS DOUBLE PRECISION)) > CAST(50.0 AS DOUBLE PRECISION)
        THEN CAST(50.0 AS DOUBLE PRECISION)
        WHEN COALESCE(g.s7, CAST(0.0 AS DOUBLE PRECISION)) < -CAST(50.0 AS DOUBLE PRECISION)
        THEN -CAST(50.0 AS DOUBLE PRECISION)
        ELSE COALESCE(g.s7, CAST(0.0 AS DOUBLE PRECISION))
      END
      ELSE CAST(0.0 AS DOUBLE PRECISION)
    END AS r7,
    CASE
      WHEN (
        COALESCE(g.c0, 0) >= 2
      )
      AND (
        CASE
          WHEN COALESCE(g.c0, 0) >= 2
          THEN COALESCE(g.a0, CAST(1e+308 AS DOUBLE PRECISION))
          ELSE CAST(1e+308 AS DOUBLE PRECISION)
        END < CAST(1e+308 AS DOUBLE PRECISION)
      )
      THEN CAST(15.0 AS DOUBLE PRECISION) * EXP(
        CASE
          WHEN COALESCE(g.c0, 0) >= 2
          THEN COALESCE(g.a0, CAST(1e+308 AS DOUBLE PRECISION))
          ELSE CAST(1e+308 AS DOUBLE PRECISION)
        END * -CAST(0.09902102579427789 AS DOUBLE PRECISION)
      )
      ELSE CAST(0.0 AS DOUBLE PRECISION)
    END AS r8,
    CASE
      WHEN (
        NOT g.s9 IS NULL
      )
      THEN CASE
        WHEN COALESCE(g.s9, CAST(0.0 AS DOUBLE PRECISION)) > CAST(25.0 AS DOUBLE PRECISION)
        THEN CAST(25.0 AS DOUBLE PRECISION)
        WHEN COALESCE(g.s9, CAST(0.0 AS DOUBLE PRECISION)) < -CAST(25.0 AS DOUBLE PRECISION)
        THEN -CAST(25.0 AS DOUBLE PRECISION)
        ELSE COALESCE(g.s9, CAST(0.0 AS DOUBLE PRECISION))
      END
      ELSE CAST(0.0 AS DOUBLE PRECISION)
    END AS r9,
    CASE
      WHEN (
        NOT g.s10 IS NULL
      )
      THEN CASE
        WHEN COALESCE(g.s10, CAST(0.0 AS DOUBLE PRECISION)) > CAST(20.0 AS DOUBLE PRECISION)
        THEN CAST(20.0 AS DOUBLE PRECISION)
        WHEN COALESCE(g.s10, CAST(0.0 AS DOUBLE PRECISION)) < -CAST(20.0 AS DOUBLE PRECISION)
        THEN -CAST(20.0 AS DOUBLE PRECISION)
        ELSE COALESCE(g.s10, CAST(0.0 AS DOUBLE PRECISION))
      END
      ELSE CAST(0.0 AS DOUBLE PRECISION)
    END AS r10,
    CASE
      WHEN (
        NOT g.s11 IS NULL
      )
      THEN CASE
        WHEN COALESCE(g.s11, CAST(0.0 AS DOUBLE PRECISION)) > CAST(6.0 AS DOUBLE PRECISION)
        THEN CAST(6.0 AS DOUBLE PRECISION)
        WHEN COALESCE(g.s11, CAST(0.0 AS DOUBLE PRECISION)) < -CAST(6.0 AS DOUBLE PRECISION)
        THEN -CAST(6.0 AS DOUBLE PRECISION)
        ELSE COALESCE(g.s11, CAST(0.0 AS DOUBLE PRECISION))
      END
      ELSE CAST(0.0 AS DOUBLE PRECISION)
    END AS r11,
    CASE
      WHEN (
        NOT g.s12 IS NULL
      )
      THEN CASE
        WHEN COALESCE(g.s12, CAST(0.0 AS DOUBLE PRECISION)) > CAST(10.0 AS DOUBLE PRECISION)
        THEN CAST(10.0 AS DOUBLE PRECISION)
        WHEN COALESCE(g.s12, CAST(0.0 AS DOUBLE PRECISION)) < -CAST(10.0 AS DOUBLE PRECISION)
        THEN -CAST(10.0 AS DOUBLE PRECISION)
        ELSE COALESCE(g.s12, CAST(0.0 AS DOUBLE PRECISION))
      END
      ELSE CAST(0.0 AS DOUBLE PRECISION)
    END AS r12
  FROM leads AS l
  LEFT JOIN agg AS g
    ON g.lead_id = l.id
  LEFT JOIN accounts AS a
    ON a.id = l.account_id
)
SELECT
  s.id AS id,
  s.r0 + s.r1 + s.r2 + s.r3 + s.r4 + s.r5 + s.r6 + s.r7 + s.r8 + s.r9 + s.r10 + s.r11 + s.r12 AS score,
  s.r0 + s.r1 + s.r2 + s.r3 + s.r4 + s.r5 AS fit,
  s.r6 + s.r7 + s.r8 + s.r9 + s.r10 + s.r11 + s.r12 AS behaviour,
  s.r9 + s.r10 + s.r11 + s.r12 AS interest,
  s.r6 + s.r7 + s.r8 AS intent,
  CASE
    WHEN (
      s.r0 + s.r1 + s.r2 + s.r3 + s.r4 + s.r5 + s.r6 + s.r7 + s.r8 + s.r9 + s.r10 + s.r11 + s.r12 >= CAST(80.0 AS DOUBLE PRECISION)
    )
    AND (
      (
        s.r6 > CAST(0.0 AS DOUBLE PRECISION)
      )
      OR (
        s.r7 > CAST(0.0 AS DOUBLE PRECISION)
      )
      OR (
        s.r8 > CAST(0.0 AS DOUBLE PRECISION)
      )
    )
    THEN 'sql_ready'
    WHEN s.r0 + s.r1 + s.r2 + s.r3 + s.r4 + s.r5 + s.r6 + s.r7 + s.r8 + s.r9 + s.r10 + s.r11 + s.r12 >= CAST(50.0 AS DOUBLE PRECISION)
    THEN 'mql'
    ELSE 'nurture'
  END AS recommendation
FROM scored AS s;
