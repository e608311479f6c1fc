'use strict';
// Utility bills: account or scanned barcode -> bill -> cash, mobile or
// voucher -> receipt.
(() => {
  const { h, t, yuan, act, notice, render } = TB;
  const UTIL_ICON = { water: '水', electricity: '电', gas: '气', heating: '暖' };
  const UTILITIES = ['water', 'electricity', 'gas', 'heating'];
  let digits = ''; // the account being typed: the only thing the page keeps
  TB.onWipe(() => { digits = ''; });

  function accountScreen(s) {
    const busy = s.busy === 'lookup';
    const press = (d) => { if (busy) return; if (d === 'del') digits = digits.slice(0, -1); else if (d === 'clear') digits = ''; else if (digits.length < 20) digits += d; act('Session.Touch'); render(); };
    const keys = ['1', '2', '3', '4', '5', '6', '7', '8', '9', 'clear', '0', 'del'].map((d) =>
      h('button', { type: 'button', id: `key-${d}`, class: d.length > 1 ? 'fn' : '', disabled: busy, onclick: () => press(d) }, d.length > 1 ? t(d) : d));
    return [
      h('h1', {}, t('enterAccount', t(s.utility))),
      h('p', { class: 'hint' }, t('accountHint')),
      s.services.scannerReady ? h('p', { class: 'hint', id: 'scan-hint' }, '▦ ', t('scanHint')) : h('p', { class: 'warn', id: 'scan-down' }, '⚠ ', t('scanDown')),
      h('div', { class: 'display' + (digits ? '' : ' empty'), id: 'account-display' }, digits || t('typeDigits')),
      notice(s),
      busy ? h('p', { class: 'hint', id: 'busy' }, t('looking')) : null,
      h('div', { class: 'keypad' }, keys),
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'secondary', id: 'btn-cancel', onclick: () => act('Session.Cancel') }, t('back')),
        h('button', { type: 'button', class: 'primary', id: 'btn-lookup', disabled: busy || digits.length < 6, onclick: () => act('Bill.Lookup', { account: digits }) }, t('lookup'))),
    ];
  }

  function billFacts(s) {
    const b = s.bill;
    return h('dl', { class: 'facts' },
      h('dt', {}, t('payee')), h('dd', { id: 'payee' }, b.payee),
      h('dt', {}, t('holder')), h('dd', {}, b.holder),
      h('dt', {}, t('period')), h('dd', {}, b.period),
      h('dt', {}, t('due')), h('dd', { class: 'money', id: 'amount-due' }, `${yuan(b.amountDue)} ${t('yuan')}`),
      b.arrears ? [h('dt', {}, t('arrears')), h('dd', { class: 'money' }, `${yuan(b.arrears)} ${t('yuan')}`)] : null,
      b.prepaid ? [h('dt', {}, t('prepaid')), h('dd', { class: 'money' }, `${yuan(b.prepaid)} ${t('yuan')}`)] : null);
  }

  // paidNotes says, before any money is taken, that the bill is paid or
  // that someone paid on this account a short while ago.
  function paidNotes(s) {
    const b = s.bill;
    const lp = b.lastPayment;
    const at = (ms) => new Date(ms).toLocaleString(TB.lang() === 'zh' ? 'zh-CN' : 'en-GB', { month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit' });
    const out = [];
    if (b.paid) out.push(h('p', { class: 'warn', id: 'bill-paid' }, 'ℹ ', b.paidAt ? [t('billPaidAt', at(b.paidAt)), t('billPaidTopUp')] : t('billPaid')));
    if (lp && lp.recent) {
      const mins = Math.max(1, Math.round((Date.now() - lp.at) / 60000));
      out.push(h('p', { class: 'warn', id: 'recent-payment' }, '⚠ ', t(lp.elsewhere ? 'paidElsewhere' : 'paidHere', mins, yuan(lp.amount))));
    }
    return out;
  }

  // receiptChoice offers the on-screen receipt before any money is taken
  // when the printer cannot print; paying waits for the resident's yes.
  function receiptChoice(s) {
    if (!s.receipt || !s.receipt.printerDown) return null;
    if (s.receipt && s.receipt.onScreen) return h('p', { class: 'ok', id: 'onscreen-chosen' }, '✔ ', t('onScreenChosen'));
    return h('div', { class: 'card warn-card', id: 'printer-offer' },
      h('p', { class: 'warn' }, '⚠ ', t('printerDownOffer')),
      h('button', { type: 'button', class: 'primary', id: 'btn-onscreen', onclick: () => act('Receipt.OnScreen') }, t('acceptOnScreen')));
  }

  function billScreen(s) {
    const canCash = s.services.cashAvailable;
    const receiptOk = !s.receipt || !s.receipt.printerDown || s.receipt.onScreen;
    return [
      h('h1', {}, `${t(s.utility)} · ${s.account}`),
      h('div', { class: 'card' }, billFacts(s)),
      paidNotes(s),
      h('p', { class: 'hint' }, t('overpayNote')),
      canCash ? null : h('p', { class: 'err', id: 'cash-down' }, '⚠ ', t('cashDown'), s.services.mobileAvailable ? t('useMobile') : ''),
      receiptChoice(s),
      offlineNote(s),
      notice(s),
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'secondary', id: 'btn-cancel', onclick: () => act('Session.Cancel') }, t('cancel')),
        s.services.mobileAvailable && s.bill.amountDue > 0 ? h('button', { type: 'button', class: 'primary', id: 'btn-mobile', disabled: !receiptOk, onclick: () => act('Mobile.Start') }, t('payMobile')) : null,
        canCash ? h('button', { type: 'button', class: 'primary', id: 'btn-cash', disabled: !receiptOk, onclick: () => act('Cash.Start') }, t('payCash')) : null),
      s.services.mobileAvailable && s.services.scannerReady && s.bill.amountDue > 0 ? h('p', { class: 'hint' }, t('showCode')) : null,
    ];
  }

  function mobileScreen(s) {
    const o = s.order;
    const left = Math.max(0, Math.ceil((o.deadline - Date.now()) / 1000));
    let body;
    if (o.status === 'cancelling') body = h('p', { id: 'mobile-status' }, t('mobileCancelling'));
    else if (o.kind === 'paymentCode') body = h('p', { id: 'mobile-status' }, t('mobileCode'));
    else if (!o.qrPayload) body = h('p', { id: 'mobile-status' }, t('mobileCreating'));
    else body = [
      h('img', { class: 'qr', id: 'mobile-qr', alt: t('mobileTitle'), src: `/qr.png?text=${encodeURIComponent(o.qrPayload)}` }),
      h('p', { class: 'center', id: 'mobile-status' }, t('mobileWaiting', left)),
      s.demo ? h('p', { class: 'center' }, h('a', { href: o.qrPayload, target: '_blank', id: 'demo-pay-link' }, t('demoPayLink'))) : null,
    ];
    return [
      h('h1', {}, t('mobileTitle')),
      h('div', { class: 'card' }, h('div', { class: 'credit' }, h('span', {}, t('due')), h('span', { class: 'big money', id: 'mobile-amount' }, `${yuan(o.amount)} ${t('yuan')}`))),
      body,
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', id: 'btn-cancel', disabled: o.status === 'cancelling', onclick: () => act('Session.Cancel') }, t('cancel'))),
    ];
  }

  function cashScreen(s) {
    const c = s.cash || { credit: 0, notes: [], accepted: [] };
    const due = s.bill ? s.bill.amountDue : 0;
    const left = due - c.credit;
    const locked = c.credit > 0 || c.inFlight;
    return [
      h('h1', {}, s.devices.billValidator && s.devices.billValidator.state === 'online' ? t('insertNotes') : t('insertCoins')),
      h('p', { class: 'hint', id: 'accepted' }, c.accepted.length ? t('accepted', c.accepted.map((v) => v / 100).join(' / ')) : ''),
      s.devices.coinAcceptor && s.devices.coinAcceptor.state === 'online' ? h('p', { class: 'hint', id: 'coins-accepted' }, t('coinsToo')) : null,
      h('div', { class: 'card' },
        h('div', { class: 'credit' },
          h('span', {}, t('credit')),
          h('span', {}, h('span', { class: 'big money', id: 'credit' }, yuan(c.credit)), ' ', t('yuan'))),
        h('div', { class: 'credit' },
          h('span', {}, t('due')), h('span', { class: 'money' }, `${yuan(due)} ${t('yuan')}`)),
        left > 0
          ? h('div', { class: 'credit' }, h('span', {}, t('remaining')), h('span', { class: 'money', id: 'remaining' }, `${yuan(left)} ${t('yuan')}`))
          : h('div', { class: 'credit ok' }, h('span', {}, t('overpaid')), h('span', { class: 'money', id: 'overpaid' }, `${yuan(-left)} ${t('yuan')}`)),
        h('div', { class: 'notes', id: 'notes' }, c.notes.map((n) => h('span', { class: 'note' }, `${n.value / 100} ${t('yuan')} × ${n.count}`)))),
      c.inFlight || s.busy === 'counting' ? h('p', { class: 'hint', id: 'counting' }, t('counting')) : null,
      offlineNote(s),
      notice(s),
      locked ? h('p', { class: 'hint' }, t('cashLocked')) : h('p', { class: 'hint' }, t('overpayNote')),
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'secondary', id: 'btn-cancel', disabled: locked, onclick: () => act('Session.Cancel') }, t('cancel')),
        h('button', { type: 'button', class: 'primary', id: 'btn-confirm', disabled: c.credit <= 0 || s.busy === 'counting', onclick: () => act('Payment.Confirm') }, t('confirm'))),
    ];
  }

  function offlineNote(s) {
    if (!s.offline) return null;
    return h('p', { class: 'warn', id: 'offline-limit' }, '⚠ ', t('offlineCash', yuan(Math.min(s.offline.perPayment, s.offline.remaining))));
  }

  function voucherScreen(s) {
    const v = s.voucher;
    const why = TB.table('voucherWhy')[v.reason] || v.reason;
    let status;
    if (v.printed === 'printing') status = h('p', { id: 'voucher-status' }, t('voucherPrinting'));
    else if (v.printed === 'printed') status = h('p', { id: 'voucher-status' }, t('voucherPrinted'));
    else status = [h('p', { class: 'warn', id: 'voucher-status' }, t('voucherFailed')),
      h('img', { class: 'qr', id: 'voucher-qr', alt: t('voucherId'), src: `/qr.png?text=${encodeURIComponent(v.payload)}` })];
    return [
      h('h1', { class: 'warn', id: 'voucher-title' }, t('voucherTitle')),
      h('p', {}, why),
      h('div', { class: 'card' }, h('dl', { class: 'facts' },
        h('dt', {}, t('voucherAmount')), h('dd', { class: 'money big', id: 'voucher-amount' }, `${yuan(v.amount)} ${t('yuan')}`),
        h('dt', {}, t('voucherId')), h('dd', { id: 'voucher-id' }, v.voucherId),
        h('dt', {}, t('voucherCode')), h('dd', {}, v.code))),
      status,
      reprintRow(s),
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'primary', id: 'btn-finish', onclick: () => act('Session.Finish') }, t('finish'))),
    ];
  }

  // reprintRow offers a copy of the session's last receipt (marked 重打)
  // and says how the copy went.
  function reprintRow(s) {
    const r = s.receipt;
    if (!r) return null;
    const out = [];
    if (r.reprint === 'printing') out.push(h('p', { id: 'reprint-status' }, '… ', t('reprinting')));
    else if (r.reprint === 'printed') out.push(h('p', { class: 'ok', id: 'reprint-status' }, '✔ ', t('reprinted')));
    else if (r.reprint === 'failed') out.push(h('p', { class: 'err', id: 'reprint-status' }, '✖ ', t('reprintFailed')));
    out.push(TB.notice(s));
    if (r.canReprint && s.services.printerReady && r.reprint !== 'printing') {
      out.push(h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', id: 'btn-reprint', onclick: () => act('Receipt.Reprint') }, t('reprint'))));
    }
    return out;
  }

  function payingScreen(s) {
    const printing = s.payment && s.payment.receipt === 'printing';
    return [h('div', { class: 'spinner', 'aria-hidden': 'true' }), h('h1', { class: 'center', id: 'paying' }, printing ? t('printing') : t('paying'))];
  }

  function doneScreen(s) {
    const p = s.payment;
    const title = p.status === 'acknowledged' ? t('doneTitle') : p.status === 'pending' ? t('pendingTitle') : t('refusedTitle');
    const cls = p.status === 'acknowledged' ? 'ok' : p.status === 'pending' ? 'warn' : 'err';
    const mark = p.status === 'acknowledged' ? '✔ ' : p.status === 'pending' ? '⚠ ' : '✖ ';
    let receipt = null;
    if (p.status === 'refused') receipt = h('p', { class: 'err' }, t('refusedHelp'));
    else if (s.receipt && s.receipt.onScreen && p.receipt !== 'printed') {
      receipt = [h('p', { class: 'warn', id: 'receipt-status' }, '▦ ', t('receiptOnScreen'))];
      if (p.verifyUrl) receipt.push(h('img', { class: 'qr', id: 'receipt-qr', alt: t('verifyCode'), src: `/qr.png?text=${encodeURIComponent(p.verifyUrl)}` }));
    } else if (p.receipt === 'printed') receipt = h('p', { id: 'receipt-status' }, p.status === 'pending' ? t('receiptPending') : t('receiptPrinted'));
    else {
      receipt = [h('p', { class: 'warn', id: 'receipt-status' }, t('receiptFailed'))];
      if (p.verifyUrl) receipt.push(h('img', { class: 'qr', id: 'receipt-qr', alt: t('verifyCode'), src: `/qr.png?text=${encodeURIComponent(p.verifyUrl)}` }));
    }
    return [
      h('h1', { class: cls, id: 'done-title' }, mark, title),
      h('div', { class: 'card' }, h('dl', { class: 'facts' },
        h('dt', {}, t('paid')), h('dd', { class: 'money', id: 'paid' }, `${yuan(p.amount)} ${t('yuan')}`),
        p.status === 'acknowledged' ? [
          h('dt', {}, t('applied')), h('dd', { class: 'money' }, `${yuan(p.appliedToBill)} ${t('yuan')}`),
          h('dt', {}, t('toPrepaid')), h('dd', { class: 'money' }, `${yuan(p.prepaidCredit)} ${t('yuan')}`),
          h('dt', {}, t('verifyCode')), h('dd', { id: 'verify-code' }, p.verifyCode)] : null,
        h('dt', {}, t('reference')), h('dd', {}, p.reference))),
      receipt,
      reprintRow(s),
      window.TBRating ? window.TBRating(s) : null, // 好差评 (apply.js)
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'primary', id: 'btn-finish', onclick: () => act('Session.Finish') }, t('finish'))),
    ];
  }


  TB.home((s) => {
    const tiles = UTILITIES.map((u) => h('button', {
      class: `tile tile-${u}`, id: `tile-${u}`, type: 'button', disabled: !s.services.platformOnline,
      onclick: () => act('Session.Start', { utility: u }),
    }, h('span', { class: 'ico', 'aria-hidden': 'true' }, UTIL_ICON[u]), t(u), h('small', {}, TB.lang() === 'zh' ? TB.tableIn('en', u) : TB.tableIn('zh', u))));
    return [h('h2', {}, t('payBills')), h('div', { class: 'tiles' }, tiles)];
  });
  TB.screen('account', accountScreen);
  TB.screen('bill', (s) => { if (s.account) digits = s.account; return billScreen(s); });
  TB.screen('cash', cashScreen);
  TB.screen('paying', payingScreen);
  TB.screen('done', doneScreen);
  TB.screen('voucher', voucherScreen);
  TB.screen('mobile', mobileScreen, { tick: true });
})();
